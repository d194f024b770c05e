"""StudioDomainOrUser: a SageMaker Studio domain, or user profiles in an existing one, wired to MLflow."""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs._internal.nag import acknowledge, acknowledge_wildcard_resource
from mlflow_sagemaker_constructs.studio.training import (
    CREDENTIALS_SECRET_ENV,
    SIGV4_AUTH,
    MlflowTrainingConfig,
    _sdk_config,
    check_client_auth,
)
from mlflow_sagemaker_constructs.tracking_server.service import ArtifactAccess, SecureMlflowService

__all__ = ["AppNetworkAccess", "StudioDomainOrUser"]

# SageMaker's naming rules (CreateUserProfile, CreateDomain).
_PROFILE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_DOMAIN_ID = re.compile(r"^d-(-*[a-z0-9]){1,61}$")
_PIP_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~]*$")
# StudioLifecycleConfigContent is base64 of at most 16384 characters.
_LIFECYCLE_CONTENT_LIMIT = 16384
# Upper bound assumed for one deploy-time value (URL, ARN, ID) in the lifecycle script.
_TOKEN_LENGTH_ESTIMATE = 256
_SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
_LIFECYCLE_TEMPLATE = "lifecycle.sh"


class AppNetworkAccess(enum.Enum):
    """How Studio apps of a new domain reach anything other than the domain's EFS volume."""

    VPC_ONLY = "VpcOnly"
    """Through the domain's VPC subnets only: the internal MLflow load balancer is reachable; AWS APIs need a
    NAT gateway or VPC endpoints."""

    PUBLIC_INTERNET_ONLY = "PublicInternetOnly"
    """Through a SageMaker-managed internet connection: apps do not reach anything inside your VPC, including
    the internal MLflow load balancer, so ``tracking_uri`` must name an internet-reachable endpoint."""


class _Auth(enum.Enum):
    BASIC = "basic"  # MLflow built-in authentication, credentials from Secrets Manager
    SIGV4 = "sigv4"  # IAM at an HTTP API, MLFLOW_TRACKING_AUTH=aws-sigv4
    NONE = "none"  # no credentials written by the lifecycle configuration


def _shell_literal(name: str, value: str) -> str:
    """``NAME='value'`` for the settings block of the lifecycle script."""
    if "'" in value or "\n" in value or "\r" in value:
        raise ValueError(f"{name} ({value!r}) contains a quote or line break, which the lifecycle script cannot hold")
    return f"{name}='{value}'"


def _render_lifecycle_script(
    *,
    tracking_uri: str,
    auth: str,
    secret_id: str = "",
    region: str = "",
    sdk_config: str = "",
    pip_packages: Sequence[str] = (),
) -> str:
    """The JupyterLab lifecycle script with its settings filled in (values may be CDK tokens)."""
    template = resources.files("mlflow_sagemaker_constructs.studio").joinpath(_LIFECYCLE_TEMPLATE).read_text()
    settings = "\n".join(
        _shell_literal(name, value)
        for name, value in (
            ("MLFLOW_LCC_TRACKING_URI", tracking_uri),
            ("MLFLOW_LCC_AUTH", auth),
            ("MLFLOW_LCC_SECRET_ID", secret_id),
            ("MLFLOW_LCC_REGION", region),
            ("MLFLOW_LCC_SDK_CONFIG", sdk_config),
            ("MLFLOW_LCC_PIP_PACKAGES", " ".join(pip_packages)),
        )
    )
    return template.replace("#@SETTINGS@", settings, 1)


def _estimated_length(resolved: object) -> int:
    """Characters of a resolved value once deployed, counting each deploy-time value generously."""
    if isinstance(resolved, str):
        return len(resolved)
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return sum(_estimated_length(p) for p in parts) + len(separator) * max(len(parts) - 1, 0)
    return _TOKEN_LENGTH_ESTIMATE


@jsii.implements(cdk.IStableStringProducer)
class _ContentHashedName:
    """``<base>-<hash of the resolved content>``: a lifecycle configuration's content can only change by
    replacement, and CloudFormation creates the replacement before deleting the old one, so the name must
    change with the content."""

    def __init__(self, scope: Construct, base: str, content: str) -> None:
        self._scope = scope
        self._base = base
        self._content = content

    def produce(self) -> str:
        resolved = cdk.Stack.of(self._scope).resolve(self._content)
        digest = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self._base}-{digest}"


class StudioDomainOrUser(Construct):
    """SageMaker Studio wired to a :class:`SecureMlflowService`: a new domain, or user profiles in an existing one.

    Minimal use: ``StudioDomainOrUser(self, "Studio", vpc=vpc, mlflow=mlflow)`` creates a domain; with
    ``existing_domain_id="d-..."`` it only adds user profiles (and what they need) to that domain.

    What it creates:

    - a new domain (IAM authentication, ``VpcOnly`` by default) in the VPC's private subnets, with the Studio
      web portal (JupyterLab spaces) as the default experience, user profile names as source identity of the
      execution role in CloudTrail, and ``RETAIN`` as removal policy;
    - a security group for Studio apps, admitted by the MLflow load balancer, that admits itself on NFS (2049)
      and 8192-65535 as Studio requires, and one for training jobs, admitted by the load balancer and by
      itself (distributed training);
    - an execution role (or one per user with ``per_user_roles``) with a least-privilege policy for Studio,
      training and tuning jobs (only in the VPC, with the training security group), models and endpoints,
      their logs and metrics, ECR pulls and the given buckets; it may pass only itself, to SageMaker;
    - a JupyterLab lifecycle configuration that sets ``MLFLOW_TRACKING_URI`` and MLflow credentials for
      terminals and kernels, and SageMaker Python SDK defaults so that training jobs run in the VPC with the
      MLflow environment;
    - with MLflow's built-in authentication and no ``mlflow_credentials_secret``: one Secrets Manager secret
      per user profile (username = profile name, generated password) and one lifecycle configuration per user
      that reads it. An admin registers these users in MLflow (see the docs); the MLflow admin secret is never
      given to Studio users.

    Protected hooks a subclass may replace: :meth:`_create_security_group`,
    :meth:`_create_training_security_group`, :meth:`_create_role` and :meth:`_create_credentials_secret`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        mlflow: SecureMlflowService,
        existing_domain_id: str | None = None,
        subnets: ec2.SubnetSelection | None = None,
        app_network_access_type: AppNetworkAccess | None = None,
        kms_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy | None = None,
        user_profile_names: Sequence[str] = (),
        per_user_roles: bool = False,
        data_buckets: Sequence[s3.IBucket] = (),
        use_sagemaker_full_access: bool = False,
        mlflow_credentials_secret: secretsmanager.ISecret | None = None,
        tracking_uri: str | None = None,
        sigv4: bool = False,
        training_subnets: ec2.SubnetSelection | None = None,
        separate_training_security_group: bool = True,
        configure_sagemaker_sdk: bool = True,
        require_vpc_for_jobs: bool = True,
        client_packages: Sequence[str] = (),
        secrets_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        """Create the domain or the user profiles.

        :param vpc: the VPC of the MLflow service (and of the existing domain); Studio apps and training jobs
            run in its subnets.
        :param mlflow: the MLflow service to wire Studio and training jobs to.
        :param existing_domain_id: add user profiles to this domain (``d-...``) instead of creating one. Its
            VPC, subnets, authentication mode (must be IAM) and network access type stay as they are. Default:
            a new domain.
        :param subnets: subnets of a new domain. Default: private subnets with egress, or the isolated ones
            when the VPC has none. New domain only.
        :param app_network_access_type: :class:`AppNetworkAccess` of a new domain. Default: ``VPC_ONLY``.
            ``PUBLIC_INTERNET_ONLY`` needs ``tracking_uri`` (apps then do not reach the VPC). New domain only.
        :param kms_key: customer managed key for the new domain's EFS and EBS volumes. Default: AWS managed
            keys. New domain only.
        :param removal_policy: what ``cdk destroy`` does to a new domain: ``RETAIN`` or ``DESTROY``.
            CloudFormation always leaves the domain's home EFS file system behind. Default: ``RETAIN``. New
            domain only.
        :param user_profile_names: user profiles to create, named by SageMaker's rules (letters, digits and
            hyphens, at most 63). Required with ``existing_domain_id``. Default: none.
        :param per_user_roles: one execution role per user profile instead of one shared role; users then cannot
            read each other's MLflow credentials or pass each other's roles. Default: False.
        :param data_buckets: buckets the execution roles may list, read and write (datasets, model artifacts);
            the first one becomes the SageMaker Python SDK's default bucket. Default: none.
        :param use_sagemaker_full_access: also attach the AWS managed ``AmazonSageMakerFullAccess`` policy (broad:
            every SageMaker action and ``s3`` on buckets named ``*sagemaker*``). Default: False.
        :param mlflow_credentials_secret: a secret with JSON ``username`` and ``password`` that every user uses for
            MLflow's built-in authentication. Default: a generated secret per user profile.
        :param tracking_uri: the MLflow URI for Studio and training jobs, e.g. an HTTP API's URL. Default:
            ``mlflow.internal_url`` (the internal load balancer).
        :param sigv4: sign MLflow requests with the execution role (``MLFLOW_TRACKING_AUTH=aws-sigv4``) for an
            IAM-authorized HTTP API; needs ``tracking_uri`` and a server without built-in authentication. The
            load balancer then does not admit Studio or training jobs directly. Default: False.
        :param training_subnets: subnets of training jobs. Default: ``subnets`` (new domain), else private
            subnets with egress or the isolated ones.
        :param separate_training_security_group: give training jobs their own security group; with False they
            use the Studio security group. Default: True.
        :param configure_sagemaker_sdk: let the lifecycle configuration install SageMaker Python SDK defaults
            (training jobs' subnets, security group and MLflow environment; default bucket). Default: True.
        :param require_vpc_for_jobs: allow ``CreateTrainingJob`` and ``CreateHyperParameterTuningJob`` only with
            the training subnets and security group (IAM conditions ``sagemaker:VpcSubnets`` and
            ``sagemaker:VpcSecurityGroupIds``), so that no job runs outside the VPC. Default: True.
        :param client_packages: pip requirements the lifecycle configuration installs at every JupyterLab start,
            e.g. ``["mlflow-sagemaker-client"]`` for ``sigv4``; needs a route to a package index.
            Default: none.
        :param secrets_removal_policy: removal policy of generated credential secrets. Default: ``RETAIN``.
        """
        super().__init__(scope, construct_id)
        self.vpc = vpc
        self.mlflow = mlflow
        self.existing_domain_id = existing_domain_id
        self.app_network_access_type = app_network_access_type or AppNetworkAccess.VPC_ONLY
        self.kms_key = kms_key
        self.removal_policy = removal_policy if removal_policy is not None else cdk.RemovalPolicy.RETAIN
        self.user_profile_names = list(user_profile_names)
        self.per_user_roles = per_user_roles
        self.data_buckets = list(data_buckets)
        self.use_sagemaker_full_access = use_sagemaker_full_access
        self.mlflow_credentials_secret = mlflow_credentials_secret
        self.tracking_uri = tracking_uri if tracking_uri is not None else mlflow.internal_url
        self.sigv4 = sigv4
        self.separate_training_security_group = separate_training_security_group
        self.configure_sagemaker_sdk = configure_sagemaker_sdk
        self.require_vpc_for_jobs = require_vpc_for_jobs
        self.client_packages = list(client_packages)
        self.secrets_removal_policy = secrets_removal_policy

        self._validate(subnets, app_network_access_type, removal_policy, tracking_uri)
        self._auth = _Auth.SIGV4 if sigv4 else _Auth.BASIC if mlflow.authentication.enabled else _Auth.NONE
        self.subnets: ec2.SubnetSelection | None = None
        self._subnet_ids: list[str] = []
        if existing_domain_id is None:
            self.subnets = subnets or check.default_private_selection(vpc)
            self._subnet_ids = check.selected_subnets(vpc, self.subnets, "subnets").subnet_ids
        self.training_subnets = training_subnets or self.subnets or check.default_private_selection(vpc)
        check.selected_subnets(vpc, self.training_subnets, "training_subnets")

        #: Security group of the Studio apps, admitted by the MLflow load balancer (not with ``sigv4``).
        self.security_group: ec2.ISecurityGroup = self._create_security_group()
        #: Security group of training jobs, admitted by the MLflow load balancer (not with ``sigv4``).
        self.training_security_group: ec2.ISecurityGroup = (
            self._create_training_security_group() if separate_training_security_group else self.security_group
        )
        if self._auth is not _Auth.SIGV4:
            mlflow.allow_from(self.security_group, "SageMaker Studio apps")
            if self.training_security_group is not self.security_group:
                mlflow.allow_from(self.training_security_group, "SageMaker training jobs")

        stack = cdk.Stack.of(self)
        #: The shared execution role: the new domain's default (also of shared spaces) and, without
        #: ``per_user_roles``, every user profile's role. ``None`` with ``per_user_roles`` in an existing domain.
        self.execution_role: iam.Role | None = None
        if existing_domain_id is None or not per_user_roles:
            self.execution_role = self._create_role(self, "ExecutionRole", "SageMaker Studio and training jobs")
        #: The customer managed policy attached to every execution role.
        self.execution_policy = iam.ManagedPolicy(
            self, "ExecutionPolicy", description="SageMaker Studio users: Studio, training jobs, models, endpoints"
        )

        #: The new domain, ``None`` in an existing domain.
        self.domain: sagemaker.CfnDomain | None = None
        #: The lifecycle configuration without per-user credentials: the new domain's default (and of shared
        #: spaces), and every profile's when credentials are shared, signed (``sigv4``) or not needed.
        self.lifecycle_config = self._create_lifecycle_config(self, "LifecycleConfig", user=None)
        if existing_domain_id is None:
            assert self.execution_role is not None
            self.domain = self._create_domain(self.execution_role)
            self.domain_id: str = self.domain.attr_domain_id
        else:
            self.domain_id = existing_domain_id
        self._add_execution_statements(stack)

        #: User profiles by name.
        self.user_profiles: dict[str, sagemaker.CfnUserProfile] = {}
        #: Execution role of each user profile.
        self.user_roles: dict[str, iam.IRole] = {}
        #: MLflow credentials secret of each user profile (built-in authentication only).
        self.credentials_secrets: dict[str, secretsmanager.ISecret] = {}
        #: Lifecycle configuration of each user profile.
        self.lifecycle_configs: dict[str, sagemaker.CfnStudioLifecycleConfig] = {}
        users = Construct(self, "Users") if self.user_profile_names else None
        for name in self.user_profile_names:
            assert users is not None
            self._add_user(Construct(users, name), name)

        for role in self.roles:
            self._grant_role(role)

    # ------------------------------------------------------------------ validation

    def _validate(
        self,
        subnets: ec2.SubnetSelection | None,
        app_network_access_type: AppNetworkAccess | None,
        removal_policy: cdk.RemovalPolicy | None,
        tracking_uri: str | None,
    ) -> None:
        domain_id = self.existing_domain_id
        if domain_id is not None:
            new_domain_only = [
                name
                for name, value in (
                    ("subnets", subnets),
                    ("app_network_access_type", app_network_access_type),
                    ("kms_key", self.kms_key),
                    ("removal_policy", removal_policy),
                )
                if value is not None
            ]
            if new_domain_only:
                raise ValueError(
                    f"existing_domain_id and {', '.join(new_domain_only)} were both given: the latter only configure "
                    "a new domain and cannot be changed on an existing one; drop them or drop existing_domain_id"
                )
            if not cdk.Token.is_unresolved(domain_id) and not _DOMAIN_ID.match(domain_id):
                raise ValueError(
                    f"existing_domain_id ({domain_id!r}) is not a SageMaker domain ID: pass the ID (d-xxxxxxxxxxxx), "
                    "not the domain's name or ARN"
                )
            if not self.user_profile_names:
                raise ValueError(
                    "existing_domain_id without user_profile_names: there is nothing to add to the existing domain; "
                    "pass user_profile_names"
                )
        elif removal_policy is not None and removal_policy not in (
            cdk.RemovalPolicy.RETAIN,
            cdk.RemovalPolicy.DESTROY,
            cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        ):
            raise ValueError(f"removal_policy ({removal_policy}) is not supported by a domain: use RETAIN or DESTROY")

        seen: set[str] = set()
        for name in self.user_profile_names:
            if not _PROFILE_NAME.match(name):
                raise ValueError(
                    f"user_profile_names: {name!r} is not a valid SageMaker user profile name: use 1 to 63 letters, "
                    "digits and hyphens, starting and ending with a letter or digit"
                )
            if name in seen:
                raise ValueError(f"user_profile_names: {name!r} is listed twice: list each user profile once")
            seen.add(name)
        if self.per_user_roles and not self.user_profile_names:
            raise ValueError("per_user_roles=True without user_profile_names: pass the users who get their own roles")

        check_client_auth(
            self.mlflow,
            sigv4=self.sigv4,
            tracking_uri=tracking_uri,
            secret_given=self.mlflow_credentials_secret is not None,
            secret_prop="mlflow_credentials_secret",
            clients="Studio users",
        )
        if (
            tracking_uri is not None
            and not cdk.Token.is_unresolved(tracking_uri)
            and not tracking_uri.startswith(("http://", "https://"))
        ):
            raise ValueError(f"tracking_uri ({tracking_uri!r}) must start with http:// or https://")
        if (
            domain_id is None
            and app_network_access_type is AppNetworkAccess.PUBLIC_INTERNET_ONLY
            and tracking_uri is None
        ):
            raise ValueError(
                "app_network_access_type=PUBLIC_INTERNET_ONLY: Studio apps then do not reach the VPC and its internal "
                "MLflow load balancer; keep VPC_ONLY or pass tracking_uri of an endpoint they can reach "
                "(PrivateHttpApi.url)"
            )
        if tracking_uri is None and not cdk.Token.is_unresolved(self.vpc.vpc_id):
            mlflow_vpc = self.mlflow.vpc.vpc_id
            if not cdk.Token.is_unresolved(mlflow_vpc) and mlflow_vpc != self.vpc.vpc_id:
                raise ValueError(
                    "vpc is not the VPC of mlflow: Studio and training jobs reach the internal load balancer only "
                    "from its VPC; pass mlflow.vpc or a tracking_uri reachable from this VPC"
                )
        for requirement in self.client_packages:
            if not _PIP_REQUIREMENT.match(requirement):
                raise ValueError(
                    f"client_packages: {requirement!r} is not a plain pip requirement: use names, extras and version "
                    "specifiers without spaces or quotes, e.g. 'mlflow-sagemaker-client==0.1.0'"
                )

    # ------------------------------------------------------------------ protected hooks

    def _create_security_group(self) -> ec2.ISecurityGroup:
        """Security group of the Studio apps; admits itself on NFS and 8192-65535 as Studio requires."""
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description="SageMaker Studio apps: NFS and app traffic within this group",
            allow_all_outbound=True,
        )
        group.add_ingress_rule(group, ec2.Port.tcp(2049), "Studio: NFS to the home EFS file system")
        group.add_ingress_rule(group, ec2.Port.tcp_range(8192, 65535), "Studio: traffic between apps")
        return group

    def _create_training_security_group(self) -> ec2.ISecurityGroup:
        """Security group of training jobs; admits itself for distributed training."""
        group = ec2.SecurityGroup(
            self,
            "TrainingSecurityGroup",
            vpc=self.vpc,
            description="SageMaker training jobs: traffic between the instances of a job",
            allow_all_outbound=True,
        )
        group.add_ingress_rule(group, ec2.Port.all_tcp(), "Distributed training between job instances")
        return group

    def _create_role(self, scope: Construct, construct_id: str, description: str) -> iam.Role:
        """An execution role that SageMaker may assume and tag with the source identity."""
        role = iam.Role(
            scope,
            construct_id,
            assumed_by=iam.ServicePrincipal(_SAGEMAKER_PRINCIPAL),
            description=f"{description} (mlflow-sagemaker-constructs)",
        )
        # Domains that record the user profile as source identity need sts:SetSourceIdentity in the trust policy.
        assert role.assume_role_policy is not None
        role.assume_role_policy.add_statements(
            iam.PolicyStatement(
                actions=["sts:SetSourceIdentity"], principals=[iam.ServicePrincipal(_SAGEMAKER_PRINCIPAL)]
            )
        )
        return role

    def _create_credentials_secret(self, scope: Construct, user: str) -> secretsmanager.ISecret:
        """The MLflow credentials of one user profile: username = profile name, generated password."""
        secret = secretsmanager.Secret(
            scope,
            "MlflowCredentials",
            description=f"MLflow credentials of SageMaker Studio user {user} (username, password)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": user}),
                generate_string_key="password",
                password_length=32,
                exclude_punctuation=True,
            ),
            removal_policy=self.secrets_removal_policy,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "MLflow keeps its users in its own database: a rotated secret would no longer match. Change the password "
            "through MLflow and update the secret (docs: studio).",
        )
        return secret

    # ------------------------------------------------------------------ internals

    def _create_domain(self, role: iam.IRole) -> sagemaker.CfnDomain:
        lcc_arn = self.lifecycle_config.attr_studio_lifecycle_config_arn
        jupyter_lab = sagemaker.CfnDomain.JupyterLabAppSettingsProperty(
            default_resource_spec=sagemaker.CfnDomain.ResourceSpecProperty(lifecycle_config_arn=lcc_arn),
            lifecycle_config_arns=[lcc_arn],
        )
        groups = [self.security_group.security_group_id]
        domain = sagemaker.CfnDomain(
            self,
            "Domain",
            domain_name=cdk.Names.unique_resource_name(self, max_length=63, separator="-"),
            auth_mode="IAM",
            vpc_id=self.vpc.vpc_id,
            subnet_ids=self._subnet_ids,
            app_network_access_type=self.app_network_access_type.value,
            kms_key_id=self.kms_key.key_arn if self.kms_key is not None else None,
            default_user_settings=sagemaker.CfnDomain.UserSettingsProperty(
                execution_role=role.role_arn,
                security_groups=groups,
                studio_web_portal="ENABLED",
                default_landing_uri="studio::",
                jupyter_lab_app_settings=jupyter_lab,
            ),
            default_space_settings=sagemaker.CfnDomain.DefaultSpaceSettingsProperty(
                execution_role=role.role_arn,
                security_groups=groups,
                jupyter_lab_app_settings=jupyter_lab,
            ),
            domain_settings=sagemaker.CfnDomain.DomainSettingsProperty(
                security_group_ids=groups,
                execution_role_identity_config="USER_PROFILE_NAME",
            ),
        )
        domain.apply_removal_policy(self.removal_policy)
        if self.app_network_access_type is AppNetworkAccess.PUBLIC_INTERNET_ONLY:
            cdk.Annotations.of(self).add_warning_v2(
                "mlflow-sagemaker-constructs:studio-public-internet",
                "Studio apps use PublicInternetOnly: they reach the internet directly and not the VPC.",
            )
        return domain

    def _credentials_secret_of(self, user: str | None) -> secretsmanager.ISecret | None:
        if self._auth is not _Auth.BASIC:
            return None
        if self.mlflow_credentials_secret is not None:
            return self.mlflow_credentials_secret
        return self.credentials_secrets.get(user) if user is not None else None

    def _create_lifecycle_config(
        self, scope: Construct, construct_id: str, user: str | None
    ) -> sagemaker.CfnStudioLifecycleConfig:
        stack = cdk.Stack.of(self)
        secret = self._credentials_secret_of(user)
        auth = self._auth.value if self._auth is not _Auth.BASIC or secret is not None else _Auth.NONE.value
        sdk_config = ""
        if self.configure_sagemaker_sdk:
            sdk_config = stack.to_json_string(
                _sdk_config(
                    self._training_vpc_config(),
                    self._training_environment(secret),
                    self.data_buckets[0] if self.data_buckets else None,
                )
            )
        script = _render_lifecycle_script(
            tracking_uri=self.tracking_uri,
            auth=auth,
            secret_id=secret.secret_arn if secret is not None else "",
            region=stack.region,
            sdk_config=sdk_config,
            pip_packages=self.client_packages,
        )
        length = _estimated_length(stack.resolve(script))
        if (length + 2) // 3 * 4 > _LIFECYCLE_CONTENT_LIMIT:
            raise ValueError(
                f"the lifecycle script would be about {length} characters, more than SageMaker's limit of "
                f"{_LIFECYCLE_CONTENT_LIMIT} base64 characters: shorten client_packages or use fewer data_buckets"
            )
        content = cdk.Fn.base64(script)
        config = sagemaker.CfnStudioLifecycleConfig(
            scope,
            construct_id,
            studio_lifecycle_config_app_type="JupyterLab",
            studio_lifecycle_config_content=content,
            studio_lifecycle_config_name="pending",
        )
        base = cdk.Names.unique_resource_name(config, max_length=54, separator="-")
        config.studio_lifecycle_config_name = cdk.Lazy.string(_ContentHashedName(config, base, content))
        return config

    def _training_vpc_config(self) -> dict[str, list[str]]:
        selected = check.selected_subnets(self.vpc, self.training_subnets, "training_subnets")
        return {
            "Subnets": list(selected.subnet_ids),
            "SecurityGroupIds": [self.training_security_group.security_group_id],
        }

    def _training_environment(self, secret: secretsmanager.ISecret | None) -> dict[str, str]:
        env = {"MLFLOW_TRACKING_URI": self.tracking_uri}
        if self._auth is _Auth.SIGV4:
            env["MLFLOW_TRACKING_AUTH"] = SIGV4_AUTH
        if secret is not None:
            env[CREDENTIALS_SECRET_ENV] = secret.secret_arn
        return env

    def _add_user(self, scope: Construct, name: str) -> None:
        role: iam.IRole
        if self.per_user_roles:
            role = self._create_role(scope, "ExecutionRole", f"SageMaker Studio user {name}")
        else:
            assert self.execution_role is not None
            role = self.execution_role
        self.user_roles[name] = role
        lifecycle_config = self.lifecycle_config
        if self._auth is _Auth.BASIC:
            if self.mlflow_credentials_secret is not None:
                self.credentials_secrets[name] = self.mlflow_credentials_secret
            else:
                self.credentials_secrets[name] = self._create_credentials_secret(scope, name)
                lifecycle_config = self._create_lifecycle_config(scope, "LifecycleConfig", user=name)
        self.lifecycle_configs[name] = lifecycle_config
        lcc_arn = lifecycle_config.attr_studio_lifecycle_config_arn
        profile = sagemaker.CfnUserProfile(
            scope,
            "Profile",
            domain_id=self.domain_id,
            user_profile_name=name,
            user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
                execution_role=role.role_arn,
                security_groups=[self.security_group.security_group_id],
                studio_web_portal="ENABLED",
                default_landing_uri="studio::",
                jupyter_lab_app_settings=sagemaker.CfnUserProfile.JupyterLabAppSettingsProperty(
                    default_resource_spec=sagemaker.CfnUserProfile.ResourceSpecProperty(lifecycle_config_arn=lcc_arn),
                    lifecycle_config_arns=[lcc_arn],
                ),
            ),
        )
        self.user_profiles[name] = profile

    def _grant_role(self, role: iam.IRole) -> None:
        """Attach the shared policy and grant what is specific to ``role``: passing itself, its secrets, artifacts."""
        self.execution_policy.attach_to_role(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassOwnRoleToSageMaker",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": _SAGEMAKER_PRINCIPAL}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadOwnRole", actions=["iam:GetRole"], resources=[role.role_arn])
        )
        for secret in {id(s): s for u, s in self.credentials_secrets.items() if self.user_roles[u] is role}.values():
            secret.grant_read(role)
        if self.mlflow.artifact_access is ArtifactAccess.DIRECT:
            self.mlflow.grant_artifact_access(role)
            self._acknowledge_resource(
                role,
                self.mlflow.bucket.arn_for_objects(f"{self.mlflow.artifact_prefix}/*"),
                "MLflow artifacts are one object per file under the artifact prefix (direct artifact access); the "
                "grant covers that prefix only.",
            )
        if self.use_sagemaker_full_access:
            role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSageMakerFullAccess"))
            assert isinstance(role, Construct)
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSageMakerFullAccess]",
                "use_sagemaker_full_access=True was chosen explicitly: the AWS managed policy is attached in addition "
                "to the least-privilege policy.",
            )

    def _acknowledge_resource(self, scope: Construct | iam.IRole, arn: str, reason: str) -> None:
        """Acknowledge cdk-nag's IAM5 finding for one wildcard resource, named as cdk-nag names it."""
        assert isinstance(scope, Construct)
        acknowledge_wildcard_resource(scope, arn, reason)

    def _add_execution_statements(self, stack: cdk.Stack) -> None:
        """The least-privilege statements every execution role shares, each wildcard acknowledged with a reason."""
        policy = self.execution_policy

        def sagemaker_arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        def add(sid: str, actions: list[str], resources: list[tuple[str, str]], **kwargs: Any) -> None:
            policy.add_statements(
                iam.PolicyStatement(sid=sid, actions=actions, resources=[arn for arn, _ in resources], **kwargs)
            )
            for arn, reason in resources:
                if reason:
                    self._acknowledge_resource(policy, arn, reason)

        job_reason = "SageMaker {} are named by the data scientist at creation; scoped to this account and region."
        jobs = [
            (sagemaker_arn("training-job", "*"), job_reason.format("training jobs")),
            (sagemaker_arn("hyper-parameter-tuning-job", "*"), job_reason.format("tuning jobs")),
        ]
        vpc_condition: dict[str, Any] = {}
        if self.require_vpc_for_jobs:
            vpc = self._training_vpc_config()
            vpc_condition = {
                "ForAllValues:StringEquals": {
                    "sagemaker:VpcSubnets": vpc["Subnets"],
                    "sagemaker:VpcSecurityGroupIds": vpc["SecurityGroupIds"],
                },
                "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            }
        add(
            "CreateJobsInTheVpc" if vpc_condition else "CreateJobs",
            ["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"],
            jobs,
            **({"conditions": vpc_condition} if vpc_condition else {}),
        )
        add(
            "SageMakerJobsModelsEndpoints",
            [
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:StopHyperParameterTuningJob",
                "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                "sagemaker:CreateModel",
                "sagemaker:DescribeModel",
                "sagemaker:DeleteModel",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:CreateEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:UpdateEndpoint",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
                "sagemaker:DeleteEndpoint",
                "sagemaker:InvokeEndpoint",
                "sagemaker:AddTags",
                "sagemaker:ListTags",
            ],
            [
                *jobs,
                (sagemaker_arn("model", "*"), job_reason.format("models")),
                (sagemaker_arn("endpoint-config", "*"), job_reason.format("endpoint configurations")),
                (sagemaker_arn("endpoint", "*"), job_reason.format("endpoints")),
            ],
        )
        domain_reason = "Studio creates {} with generated names; scoped to this domain."
        add(
            "StudioAppsAndSpacesInThisDomain",
            [
                "sagemaker:DescribeDomain",
                "sagemaker:DescribeUserProfile",
                "sagemaker:CreateSpace",
                "sagemaker:UpdateSpace",
                "sagemaker:DeleteSpace",
                "sagemaker:DescribeSpace",
                "sagemaker:CreateApp",
                "sagemaker:DeleteApp",
                "sagemaker:DescribeApp",
                "sagemaker:AddTags",
                "sagemaker:ListTags",
            ],
            [
                (sagemaker_arn("domain", self.domain_id), ""),
                (sagemaker_arn("user-profile", f"{self.domain_id}/*"), domain_reason.format("user profiles")),
                (sagemaker_arn("space", f"{self.domain_id}/*"), domain_reason.format("spaces")),
                (sagemaker_arn("app", f"{self.domain_id}/*"), domain_reason.format("apps")),
            ],
        )
        add(
            "SageMakerListAndEc2Describe",
            [
                "sagemaker:ListTrainingJobs",
                "sagemaker:ListHyperParameterTuningJobs",
                "sagemaker:ListModels",
                "sagemaker:ListEndpointConfigs",
                "sagemaker:ListEndpoints",
                "sagemaker:ListApps",
                "sagemaker:ListSpaces",
                "sagemaker:ListUserProfiles",
                "sagemaker:ListStudioLifecycleConfigs",
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeDhcpOptions",
                "ecr:GetAuthorizationToken",
                "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
            ],
            [("*", "")],
        )
        add(
            "TrainingJobNetworkInterfaces",
            [
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            [("*", "")],
        )
        add(
            "SageMakerMetrics",
            ["cloudwatch:PutMetricData"],
            [("*", "")],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level permissions use '*': SageMaker List*, EC2 Describe*, "
            "ecr:GetAuthorizationToken, CloudWatch metric reads, PutMetricData (limited to /aws/sagemaker/* "
            "namespaces), and the network interfaces SageMaker creates in the VPC for training jobs and models.",
        )
        add(
            "SageMakerLogs",
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            ],
            [
                (
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    ),
                    "SageMaker writes jobs', endpoints' and Studio's logs to log groups and streams under "
                    "/aws/sagemaker/ that it names at run time.",
                )
            ],
        )
        add(
            "PullImages",
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            [
                (
                    stack.format_arn(service="ecr", account="*", resource="repository", resource_name="*"),
                    "SageMaker's prebuilt training and inference images live in AWS-owned accounts that differ by "
                    "region and framework; pulls are limited to this region and still need the repository's own "
                    "policy to allow them.",
                )
            ],
        )
        if self.data_buckets:
            object_reason = "Datasets and model artifacts are objects of any name in the data bucket given."
            add(
                "DataBucketsList",
                ["s3:ListBucket", "s3:GetBucketLocation"],
                [(bucket.bucket_arn, "") for bucket in self.data_buckets],
            )
            add(
                "DataBucketsObjects",
                [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                [(bucket.arn_for_objects("*"), object_reason) for bucket in self.data_buckets],
            )
        keys = [b.encryption_key for b in self.data_buckets if b.encryption_key is not None]
        if keys:
            add(
                "DataBucketKeys",
                ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                [(key.key_arn, "") for key in keys],
            )
        if self.kms_key is not None:
            add(
                "DomainKey",
                ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                [(self.kms_key.key_arn, "")],
            )
            add(
                "DomainKeyGrantsForAwsResources",
                ["kms:CreateGrant"],
                [(self.kms_key.key_arn, "")],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )

    # ------------------------------------------------------------------ public surface

    @property
    def roles(self) -> list[iam.IRole]:
        """Every execution role this construct created (the shared one first), e.g. for ``grant_invoke``."""
        roles: list[iam.IRole] = [self.execution_role] if self.execution_role is not None else []
        for role in self.user_roles.values():
            if role not in roles:
                roles.append(role)
        return roles

    @property
    def url(self) -> str | None:
        """The new domain's Studio URL; ``None`` in an existing domain."""
        return self.domain.attr_url if self.domain is not None else None

    def training_config(self, user_profile_name: str | None = None) -> MlflowTrainingConfig:
        """The training-job configuration (subnets, security group, MLflow environment) of a user's jobs.

        :param user_profile_name: whose MLflow credentials the jobs use (per-user secrets). Default: the shared
            secret, or none when credentials are not needed (``sigv4``, server authentication disabled).
        """
        if user_profile_name is not None and user_profile_name not in self.user_profiles:
            raise ValueError(
                f"training_config({user_profile_name!r}): no such user profile; use one of {sorted(self.user_profiles)}"
            )
        secret = self._credentials_secret_of(user_profile_name)
        if self._auth is _Auth.BASIC and secret is None:
            raise ValueError(
                "training_config() without user_profile_name: every user has their own MLflow credentials; "
                "pass user_profile_name"
            )
        return MlflowTrainingConfig(
            self.mlflow,
            security_group=self.training_security_group,
            subnets=self.training_subnets,
            credentials_secret=secret,
            tracking_uri=self.tracking_uri,
            sigv4=self.sigv4,
            default_bucket=self.data_buckets[0] if self.data_buckets else None,
        )

    def grant_read_credentials(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read every user's MLflow credentials, e.g. automation that registers them in MLflow."""
        if not self.credentials_secrets:
            raise ValueError("grant_read_credentials: there are no MLflow credential secrets (no built-in auth users)")
        for secret in {id(s): s for s in self.credentials_secrets.values()}.values():
            secret.grant_read(grantee)
