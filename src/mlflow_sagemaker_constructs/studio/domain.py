"""StudioDomainOrUser: a SageMaker Studio domain, or user profiles in an existing one, wired to MLflow."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mlflow_sagemaker_constructs._internal import checkov
from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs._internal.nag import acknowledge
from mlflow_sagemaker_constructs.studio.execution_policy import (
    OWNER_TAG,
    SHARED_OWNER,
    add_shared_statements,
    grant_owner_scoped,
)
from mlflow_sagemaker_constructs.studio.lifecycle_config import create_lifecycle_config, render_script
from mlflow_sagemaker_constructs.studio.training import MlflowTrainingConfig, check_client_auth, training_vpc_config
from mlflow_sagemaker_constructs.tracking_server.artifacts import ArtifactAccess
from mlflow_sagemaker_constructs.tracking_server.interface import IMlflowTrackingServer
from mlflow_sagemaker_constructs.tracking_server.principal_mapping import PrincipalMapping

__all__ = ["AppNetworkAccess", "StudioDomainOrUser"]

# SageMaker's naming rules (CreateUserProfile, CreateDomain).
_PROFILE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_DOMAIN_ID = re.compile(r"^d-(-*[a-z0-9]){1,61}$")
_PIP_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~]*$")
_SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"


class AppNetworkAccess(enum.Enum):
    """How Studio apps of a new domain reach anything other than the domain's EFS volume."""

    VPC_ONLY = "VpcOnly"
    """Through the domain's VPC subnets only: the internal MLflow load balancer is reachable; AWS APIs need a
    NAT gateway or VPC endpoints."""

    PUBLIC_INTERNET_ONLY = "PublicInternetOnly"
    """Through a SageMaker-managed internet connection: apps do not reach anything inside your VPC, including
    the internal MLflow load balancer, so ``tracking_uri`` must name an internet-reachable endpoint."""


#: The distribution with the ``aws-iam`` and ``aws-sigv4`` MLflow request-auth plugins.
CLIENT_DISTRIBUTION = "mlflow-sagemaker-client"

#: The MLflow user of the shared execution role (shared spaces, a new domain's default) with IAM authentication.
SHARED_MLFLOW_USER = "studio-shared"


class _Auth(enum.Enum):
    BASIC = "basic"  # MLflow built-in authentication, credentials from Secrets Manager
    SIGV4 = "sigv4"  # IAM at an HTTP API, MLFLOW_TRACKING_AUTH=aws-sigv4
    IAM = "iam"  # IAM principals are MLflow users, MLFLOW_TRACKING_AUTH=aws-iam
    NONE = "none"  # no credentials written by the lifecycle configuration


class StudioDomainOrUser(Construct):
    """SageMaker Studio wired to an MLflow tracking server: a new domain, or user profiles in an existing one.

    Minimal use: ``StudioDomainOrUser(self, "Studio", vpc=vpc, mlflow=mlflow, user_profile_names=["alice"])``
    creates a domain; with ``existing_domain_id="d-..."`` it only adds user profiles (and what they need).

    What it creates:

    - a new domain (IAM authentication, ``VpcOnly`` by default) in the VPC's private subnets, with the Studio
      web portal (JupyterLab spaces) as the default experience, user profile names as source identity of the
      execution role in CloudTrail, and ``RETAIN`` as removal policy;
    - a security group for Studio apps, that admits itself on NFS (2049) and 8192-65535 as Studio requires,
      and one for training jobs; both are admitted by the server when clients talk to it directly;
    - one execution role per user profile (and the domain's default role), each with the shared
      least-privilege policy (jobs only in the VPC, models and endpoints, logs, metrics, image pulls, the
      data buckets, network interfaces in the VPC only) and statements that let it change only its user's
      own jobs, models, endpoints, private spaces and apps (owner tag ``mlflow-sagemaker-owner``); each role
      may pass only itself, to SageMaker;
    - a JupyterLab lifecycle configuration per user that sets ``MLFLOW_TRACKING_URI`` and MLflow credentials
      for terminals and kernels, and SageMaker Python SDK defaults (VPC, MLflow environment, owner tag);
    - with MLflow's basic-auth and no ``mlflow_credentials_secret``: one Secrets Manager secret per user
      profile (username = profile name), readable only by that user's role.

    Every prop is stored as a public attribute of the same name. Protected hooks: :meth:`_create_security_group`,
    :meth:`_create_training_security_group`, :meth:`_create_role`, :meth:`_create_credentials_secret` and
    :meth:`_create_user_profile`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        mlflow: IMlflowTrackingServer,
        existing_domain_id: str | None = None,
        subnets: ec2.SubnetSelection | None = None,
        app_network_access_type: AppNetworkAccess | None = None,
        kms_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy | None = None,
        user_profile_names: Sequence[str] = (),
        per_user_roles: bool = True,
        role_name_prefix: str | None = None,
        data_buckets: Sequence[s3.IBucket] = (),
        use_sagemaker_full_access: bool = False,
        mlflow_credentials_secret: secretsmanager.ISecret | None = None,
        tracking_uri: str | None = None,
        sigv4: bool = False,
        training_subnets: ec2.SubnetSelection | None = None,
        separate_training_security_group: bool = True,
        configure_sagemaker_sdk: bool = True,
        require_vpc_for_jobs: bool = True,
        client_packages: Sequence[str] | None = None,
        secrets_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        """Create the domain or the user profiles.

        :param vpc: the VPC of the MLflow service (and of the existing domain); Studio apps and training jobs
            run in its subnets.
        :param mlflow: the tracking server (:class:`IMlflowTrackingServer`) to wire Studio and training jobs to.
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
        :param per_user_roles: one execution role per user profile. Each role reads only its user's MLflow
            secret, passes only itself, and changes only the SageMaker resources its user owns. With False every
            profile shares one role (and so one owner); refused with per-user MLflow passwords, which every
            user could then read. With an MLflow server that authenticates IAM principals, each role is mapped to
            the MLflow user of its profile's name, and the shared role to ``studio-shared``. Default: True.
        :param role_name_prefix: name the execution roles ``<prefix><profile name>`` (and the shared one
            ``<prefix>studio-shared``). For a server defined in another stack or app, whose rules cannot be
            added to from here: give it ``PrincipalMapping.role_name_prefix(<prefix>)``. Default: names CDK
            generates.
        :param data_buckets: buckets the execution roles may list, read and write (datasets, model artifacts);
            the first one becomes the SageMaker Python SDK's default bucket. Default: none.
        :param use_sagemaker_full_access: also attach the AWS managed ``AmazonSageMakerFullAccess`` policy (broad:
            every SageMaker action and ``s3`` on buckets named ``*sagemaker*``). Default: False.
        :param mlflow_credentials_secret: a secret with JSON ``username`` and ``password`` that every user uses for
            MLflow's built-in authentication. Default: a generated secret per user profile.
        :param tracking_uri: the MLflow URI for Studio and training jobs, e.g. an HTTP API's URL. Default:
            ``mlflow.url`` (the server inside the VPC). With a tracking URI of your own the server does not admit
            Studio or training jobs directly.
        :param sigv4: sign MLflow requests with the execution role (``MLFLOW_TRACKING_AUTH=aws-sigv4``) for an
            IAM-authorized HTTP API; needs ``tracking_uri`` and a server without built-in authentication. The
            load balancer then does not admit Studio or training jobs directly. Default: False.
        :param training_subnets: subnets of training jobs. Default: ``subnets`` (new domain), else private
            subnets with egress or the isolated ones.
        :param separate_training_security_group: give training jobs their own security group; with False they
            use the Studio security group. Default: True.
        :param configure_sagemaker_sdk: let the lifecycle configuration install SageMaker Python SDK defaults
            (training jobs' subnets, security group and MLflow environment; default bucket; the owner tag on what
            the SDK creates). Default: True.
        :param require_vpc_for_jobs: allow ``CreateTrainingJob`` and ``CreateHyperParameterTuningJob`` only with
            the training subnets and security group (IAM conditions ``sagemaker:VpcSubnets`` and
            ``sagemaker:VpcSecurityGroupIds``), so that no job runs outside the VPC. Default: True.
        :param client_packages: pip requirements the lifecycle configuration installs at every JupyterLab start;
            needs a route to a package index (or a pip configuration for a private one). Give ``[]`` when the
            image already has the client. Default: ``mlflow-sagemaker-client`` of this library's version when
            the clients need its ``aws-iam`` or ``aws-sigv4`` plugin, otherwise none.
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
        self.role_name_prefix = role_name_prefix
        self.data_buckets = list(data_buckets)
        self.use_sagemaker_full_access = use_sagemaker_full_access
        self.mlflow_credentials_secret = mlflow_credentials_secret
        self.tracking_uri = tracking_uri if tracking_uri is not None else mlflow.url
        self.sigv4 = sigv4
        self.configure_sagemaker_sdk = configure_sagemaker_sdk
        self.require_vpc_for_jobs = require_vpc_for_jobs
        self.secrets_removal_policy = secrets_removal_policy
        self._custom_tracking_uri = tracking_uri
        self._auth = self._client_auth()
        self.client_packages = list(client_packages) if client_packages is not None else self._default_packages()
        self._validate(subnets, app_network_access_type, removal_policy)
        self.subnets: ec2.SubnetSelection | None = None
        if existing_domain_id is None:
            self.subnets = subnets or check.default_private_selection(vpc)
        self.training_subnets = training_subnets or self.subnets or check.default_private_selection(vpc)

        #: Security group of the Studio apps.
        self.security_group: ec2.ISecurityGroup = self._create_security_group()
        #: Security group of training jobs.
        self.training_security_group: ec2.ISecurityGroup = (
            self._create_training_security_group() if separate_training_security_group else self.security_group
        )
        self._admit_clients()
        #: The customer managed policy attached to every execution role.
        self.execution_policy = iam.ManagedPolicy(
            self, "ExecutionPolicy", description="SageMaker Studio users: Studio, training jobs, models, endpoints"
        )
        #: The shared execution role: a new domain's default (and of its shared spaces), and every profile's
        #: role without ``per_user_roles``. ``None`` with ``per_user_roles`` in an existing domain.
        self.execution_role: iam.Role | None = None
        if existing_domain_id is None or not per_user_roles:
            self.execution_role = self._create_role(
                self, "ExecutionRole", "SageMaker Studio and training jobs", self._role_name(SHARED_MLFLOW_USER)
            )
        #: The lifecycle configuration of the shared role: the new domain's default settings (and of shared
        #: spaces), and every profile's when all users share one role and one (or no) MLflow credential.
        #: ``None`` with ``per_user_roles`` in an existing domain, where nothing would use it.
        self.lifecycle_config: sagemaker.CfnStudioLifecycleConfig | None = (
            self._create_lifecycle_config(self, "LifecycleConfig", user=None) if self.execution_role else None
        )
        #: The new domain, ``None`` in an existing domain.
        self.domain: sagemaker.CfnDomain | None = self._create_domain() if existing_domain_id is None else None
        self.domain_id: str = self.domain.attr_domain_id if self.domain is not None else str(existing_domain_id)
        self._add_shared_statements()

        #: User profiles by name.
        self.user_profiles: dict[str, sagemaker.CfnUserProfile] = {}
        #: Execution role of each user profile.
        self.user_roles: dict[str, iam.IRole] = {}
        #: MLflow credentials secret of each user profile (basic-auth only).
        self.credentials_secrets: dict[str, secretsmanager.ISecret] = {}
        #: Lifecycle configuration of each user profile.
        self.lifecycle_configs: dict[str, sagemaker.CfnStudioLifecycleConfig] = {}
        users = Construct(self, "Users") if self.user_profile_names else None
        for name in self.user_profile_names:
            assert users is not None
            self._add_user(Construct(users, name), name)
        if self.execution_role is not None:
            self._grant_role(self.execution_role, owner=SHARED_OWNER, user=None)
            self._map_to_mlflow_user(self.execution_role, SHARED_MLFLOW_USER)

    # ------------------------------------------------------------------ validation

    def _default_packages(self) -> list[str]:
        """The client distribution, pinned to this library's version, when the clients need its plugins."""
        if self._auth not in (_Auth.IAM, _Auth.SIGV4):
            return []
        from mlflow_sagemaker_constructs import __version__

        return [f"{CLIENT_DISTRIBUTION}=={__version__}"]

    def _client_auth(self) -> _Auth:
        if self.mlflow.authentication.uses_iam_tokens:
            return _Auth.IAM
        if self.sigv4:
            return _Auth.SIGV4
        return _Auth.BASIC if self.mlflow.authentication.uses_authorization_header else _Auth.NONE

    def _validate(
        self,
        subnets: ec2.SubnetSelection | None,
        app_network_access_type: AppNetworkAccess | None,
        removal_policy: cdk.RemovalPolicy | None,
    ) -> None:
        domain_id = self.existing_domain_id
        if domain_id is not None:
            check.only_with(
                {
                    "subnets": subnets,
                    "app_network_access_type": app_network_access_type,
                    "kms_key": self.kms_key,
                    "removal_policy": removal_policy,
                },
                False,
                "a new domain (they cannot be changed on an existing one; drop them or drop existing_domain_id)",
            )
            if not check.is_token(domain_id) and not _DOMAIN_ID.match(domain_id):
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
        for name in self.user_profile_names:
            if not _PROFILE_NAME.match(name):
                raise ValueError(
                    f"user_profile_names: {name!r} is not a valid SageMaker user profile name: use 1 to 63 letters, "
                    "digits and hyphens, starting and ending with a letter or digit"
                )
        check.unique(self.user_profile_names, "user_profile_names")
        prefix = self.role_name_prefix
        if prefix is not None:
            longest = max([SHARED_MLFLOW_USER, *self.user_profile_names], key=len)
            if not re.fullmatch(r"[\w+=,.@-]+", prefix) or len(prefix + longest) > 64:
                raise ValueError(
                    f"role_name_prefix ({prefix!r}) must be letters, digits or +=,.@_- and leave room for the "
                    f"profile names: {prefix + longest!r} is longer than IAM's 64 characters"
                )
        self._validate_mlflow_access(app_network_access_type)
        for requirement in self.client_packages:
            if not _PIP_REQUIREMENT.match(requirement):
                raise ValueError(
                    f"client_packages: {requirement!r} is not a plain pip requirement: use names, extras and version "
                    "specifiers without spaces or quotes, e.g. 'mlflow-sagemaker-client==0.2.0'"
                )

    def _validate_mlflow_access(self, app_network_access_type: AppNetworkAccess | None) -> None:
        tracking_uri = self._custom_tracking_uri
        check_client_auth(
            self.mlflow,
            sigv4=self.sigv4,
            tracking_uri=tracking_uri,
            secret_given=self.mlflow_credentials_secret is not None,
            secret_prop="mlflow_credentials_secret",
            clients="Studio users",
        )
        if self._auth is _Auth.IAM and not self.per_user_roles and self.user_profile_names:
            raise ValueError(
                "per_user_roles=False with an MLflow server that authenticates IAM principals: every user would be "
                "the same MLflow user (the shared role's). Keep per_user_roles=True"
            )
        per_user_passwords = self._auth is _Auth.BASIC and self.mlflow_credentials_secret is None
        if per_user_passwords and not self.per_user_roles and self.user_profile_names:
            raise ValueError(
                "per_user_roles=False with a generated MLflow password per user: the shared execution role could "
                "read every user's password. Keep per_user_roles=True, or pass one shared mlflow_credentials_secret"
            )
        if (
            tracking_uri is not None
            and not check.is_token(tracking_uri)
            and not tracking_uri.startswith(("http://", "https://"))
        ):
            raise ValueError(f"tracking_uri ({tracking_uri!r}) must start with http:// or https://")
        if (
            self.existing_domain_id is None
            and app_network_access_type is AppNetworkAccess.PUBLIC_INTERNET_ONLY
            and tracking_uri is None
        ):
            raise ValueError(
                "app_network_access_type=PUBLIC_INTERNET_ONLY: Studio apps then do not reach the VPC and the "
                "MLflow server; keep VPC_ONLY or pass tracking_uri of an endpoint they can reach (PrivateHttpApi.url)"
            )
        if tracking_uri is None:
            check.same_vpc(self.vpc, self.mlflow.vpc, "mlflow (Studio reaches the server only from its VPC)")

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

    def _create_role(
        self, scope: Construct, construct_id: str, description: str, role_name: str | None = None
    ) -> iam.Role:
        """An execution role that SageMaker may assume and tag with the source identity."""
        role = iam.Role(
            scope,
            construct_id,
            role_name=role_name,
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
        checkov.skip(secret, "CKV_AWS_149", checkov.SECRET_KMS_REASON)
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "MLflow keeps its users in its own database: a rotated secret would no longer match. Change the password "
            "through MLflow and update the secret (docs: studio).",
        )
        return secret

    def _create_user_profile(
        self, scope: Construct, name: str, role: iam.IRole, lifecycle_config: sagemaker.CfnStudioLifecycleConfig
    ) -> sagemaker.CfnUserProfile:
        """The user profile: its role, the Studio security group, JupyterLab with its lifecycle configuration."""
        lcc_arn = lifecycle_config.attr_studio_lifecycle_config_arn
        return sagemaker.CfnUserProfile(
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

    # ------------------------------------------------------------------ internals

    def _admit_clients(self) -> None:
        """The server admits Studio and training jobs only when they talk to it directly."""
        if self._custom_tracking_uri is not None:
            return
        self.mlflow.allow_from(self.security_group, "SageMaker Studio apps")
        if self.training_security_group is not self.security_group:
            self.mlflow.allow_from(self.training_security_group, "SageMaker training jobs")

    def _create_domain(self) -> sagemaker.CfnDomain:
        assert self.execution_role is not None
        assert self.subnets is not None
        role = self.execution_role
        assert self.lifecycle_config is not None
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
            subnet_ids=check.selected_subnets(self.vpc, self.subnets, "subnets").subnet_ids,
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
        if self.kms_key is None:
            checkov.skip(
                domain,
                "CKV_AWS_187",
                "No kms_key was given: SageMaker encrypts the domain's storage with an AWS owned key; pass kms_key "
                "for a customer managed one.",
            )
        if self.app_network_access_type is AppNetworkAccess.PUBLIC_INTERNET_ONLY:
            cdk.Annotations.of(self).add_warning_v2(
                "mlflow-sagemaker-constructs:studio-public-internet",
                "Studio apps use PublicInternetOnly: they reach the internet directly and not the VPC.",
            )
        return domain

    def _add_shared_statements(self) -> None:
        vpc = training_vpc_config(self.vpc, self.training_subnets, self.training_security_group)
        add_shared_statements(
            self.execution_policy,
            domain_id=self.domain_id,
            vpc_id=self.vpc.vpc_id,
            training_subnet_ids=vpc["Subnets"],
            training_security_group_id=self.training_security_group.security_group_id,
            require_vpc_for_jobs=self.require_vpc_for_jobs,
            data_buckets=self.data_buckets,
            domain_key=self.kms_key,
        )

    def _credentials_secret_of(self, user: str | None) -> secretsmanager.ISecret | None:
        if self._auth is not _Auth.BASIC:
            return None
        if self.mlflow_credentials_secret is not None:
            return self.mlflow_credentials_secret
        return self.credentials_secrets.get(user) if user is not None else None

    def _owner_of(self, user: str | None) -> str:
        return user if user is not None and self.per_user_roles else SHARED_OWNER

    def _training_config(self, user: str | None) -> MlflowTrainingConfig:
        return MlflowTrainingConfig(
            self.mlflow,
            security_group=self.training_security_group,
            subnets=self.training_subnets,
            credentials_secret=self._credentials_secret_of(user),
            tracking_uri=self._custom_tracking_uri,
            sigv4=self.sigv4,
            default_bucket=self.data_buckets[0] if self.data_buckets else None,
            resource_tags={OWNER_TAG: self._owner_of(user)},
        )

    def _create_lifecycle_config(
        self, scope: Construct, construct_id: str, user: str | None
    ) -> sagemaker.CfnStudioLifecycleConfig:
        stack = cdk.Stack.of(self)
        secret = self._credentials_secret_of(user)
        # Without credentials (the domain's default when every user has their own), nothing can log to MLflow:
        # the script then writes no credentials and no SDK defaults.
        without_credentials = self._auth is _Auth.BASIC and secret is None
        sdk_config = ""
        if self.configure_sagemaker_sdk and not without_credentials:
            sdk_config = stack.to_json_string(self._training_config(user).sagemaker_sdk_config())
        script = render_script(
            tracking_uri=self.tracking_uri,
            auth=_Auth.NONE.value if without_credentials else self._auth.value,
            secret_id=secret.secret_arn if secret is not None else "",
            region=stack.region,
            sdk_config=sdk_config,
            pip_packages=self.client_packages,
            iam_sts_endpoint=self._iam_sts_endpoint(),
        )
        return create_lifecycle_config(scope, construct_id, script)

    def _iam_sts_endpoint(self) -> str:
        sts_access = self.mlflow.authentication.sts_access
        if self._auth is _Auth.IAM and sts_access is not None and sts_access.endpoint_url is not None:
            return sts_access.endpoint_url
        return ""

    def _role_name(self, user: str) -> str | None:
        return None if self.role_name_prefix is None else f"{self.role_name_prefix}{user}"

    def _prefix_rule_maps_roles(self) -> bool:
        return self.role_name_prefix is not None and any(
            rule.kind == "role_prefix" and rule.name == self.role_name_prefix
            for rule in self.mlflow.authentication.principals
        )

    def _map_to_mlflow_user(self, role: iam.IRole, username: str) -> None:
        """With IAM authentication, sessions of ``role`` are the MLflow user ``username`` (created at start),
        unless the server's own prefix rule already covers the role names."""
        if self._auth is _Auth.IAM and not self._prefix_rule_maps_roles():
            self.mlflow.add_principal_mapping(PrincipalMapping.role(role, username=username))

    def _add_user(self, scope: Construct, name: str) -> None:
        role: iam.Role
        if self.per_user_roles:
            role = self._create_role(scope, "ExecutionRole", f"SageMaker Studio user {name}", self._role_name(name))
        else:
            assert self.execution_role is not None
            role = self.execution_role
        self.user_roles[name] = role
        if self.per_user_roles:
            self._map_to_mlflow_user(role, name)
        if self._auth is _Auth.BASIC:
            self.credentials_secrets[name] = self.mlflow_credentials_secret or self._create_credentials_secret(
                scope, name
            )
        # A user's own script when its content differs: their own password, or their owner tag in the SDK defaults.
        own_password = self._auth is _Auth.BASIC and self.mlflow_credentials_secret is None
        own_owner_tag = self.configure_sagemaker_sdk and self.per_user_roles
        lifecycle_config = self.lifecycle_config
        if own_password or own_owner_tag or lifecycle_config is None:
            lifecycle_config = self._create_lifecycle_config(scope, "LifecycleConfig", user=name)
        self.lifecycle_configs[name] = lifecycle_config
        self.user_profiles[name] = self._create_user_profile(scope, name, role, lifecycle_config)
        if self.per_user_roles:
            self._grant_role(role, owner=name, user=name)

    def _grant_role(self, role: iam.Role, *, owner: str, user: str | None) -> None:
        """Attach the shared policy and grant what is specific to ``role``: itself, its secret, its resources."""
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
        secrets = {id(s): s for u, s in self.credentials_secrets.items() if self.user_roles[u] is role}
        for secret in secrets.values():
            secret.grant_read(role)
        profile_arn = (
            cdk.Stack.of(self).format_arn(
                service="sagemaker", resource="user-profile", resource_name=f"{self.domain_id}/{user}"
            )
            if user is not None
            else None
        )
        grant_owner_scoped(role, owner=owner, domain_id=self.domain_id, user_profile_arn=profile_arn)
        if self.mlflow.artifact_access is ArtifactAccess.DIRECT:
            self.mlflow.grant_artifact_access(role)
        if self.use_sagemaker_full_access:
            role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSageMakerFullAccess"))
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSageMakerFullAccess]",
                "use_sagemaker_full_access=True was chosen explicitly: the AWS managed policy is attached in addition "
                "to the least-privilege policy.",
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
        """The training-job configuration (subnets, security group, MLflow environment, owner tag) of a user's jobs.

        :param user_profile_name: whose MLflow credentials and owner tag the jobs use. Default: the shared role's
            (only when credentials are shared or not needed).
        """
        if user_profile_name is not None and user_profile_name not in self.user_profiles:
            raise ValueError(
                f"training_config({user_profile_name!r}): no such user profile; use one of {sorted(self.user_profiles)}"
            )
        if self._auth is _Auth.BASIC and self._credentials_secret_of(user_profile_name) is None:
            raise ValueError(
                "training_config() without user_profile_name: every user has their own MLflow credentials; "
                "pass user_profile_name"
            )
        return self._training_config(user_profile_name)

    def grant_read_credentials(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read every user's MLflow credentials, e.g. automation that registers them in MLflow."""
        secrets = list({id(s): s for s in self.credentials_secrets.values()}.values())
        if not secrets:
            raise ValueError("grant_read_credentials: there are no MLflow credential secrets (no basic-auth users)")
        grant = secrets[0].grant_read(grantee)
        for secret in secrets[1:]:
            grant = grant.combine(secret.grant_read(grantee))
        return grant
