"""MlflowTrainingConfig: what a SageMaker training job needs to log to the MLflow server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from mlflow_sagemaker_constructs._internal import validation as check
from mlflow_sagemaker_constructs.tracking_server.interface import IMlflowTrackingServer

__all__ = ["CREDENTIALS_SECRET_ENV", "SIGV4_AUTH", "MlflowTrainingConfig", "training_vpc_config"]

#: Environment variable naming the Secrets Manager secret (ARN) with the MLflow ``username`` and
#: ``password``; the training script reads it at run time, so the password never sits in the job definition.
CREDENTIALS_SECRET_ENV = "MLFLOW_CREDENTIALS_SECRET_ARN"
#: ``MLFLOW_TRACKING_AUTH`` value of the SigV4 request auth plugin (``pip install mlflow-sagemaker-client``).
SIGV4_AUTH = "aws-sigv4"
#: The client plugin of servers that authenticate IAM principals (mlflow-sagemaker-client).
IAM_AUTH = "aws-iam"


def check_client_auth(
    mlflow: IMlflowTrackingServer,
    *,
    sigv4: bool,
    tracking_uri: str | None,
    secret_given: bool,
    secret_prop: str,
    clients: str,
) -> bool:
    """Reject client authentication settings that cannot work with ``mlflow``; return whether it uses basic-auth.

    Shared by the training-job configuration and Studio: SigV4 needs the HTTP API's URL and a server without
    basic-auth (both use the Authorization header); a credentials secret only makes sense with basic-auth;
    clients that talk to the server directly need a server that authenticates.
    """
    built_in: bool = mlflow.authentication.uses_authorization_header
    if sigv4 and mlflow.authentication.uses_iam_tokens:
        raise ValueError(
            "sigv4=True with an MLflow server that authenticates IAM principals: its client plugin "
            "(MLFLOW_TRACKING_AUTH=aws-iam) signs for an IAM-authorized HTTP API as well; drop sigv4"
        )
    if tracking_uri is None and not mlflow.authentication.enabled:
        raise ValueError(
            f"the MLflow server does not authenticate (authenticated_by={mlflow.authentication.authenticated_by!r}), "
            f"so {clients} must not reach it directly: pass tracking_uri of what authenticates (e.g. the "
            "PrivateHttpApi's url, with sigv4=True), or give the server authentication"
        )
    if sigv4:
        if tracking_uri is None:
            raise ValueError(
                "sigv4=True needs tracking_uri: pass the HTTP API's URL (PrivateHttpApi.url); the load "
                "balancer's internal URL does not check SigV4"
            )
        if built_in:
            raise ValueError(
                "sigv4=True with an MLflow server that uses its built-in authentication: SigV4 and basic auth "
                "both use the Authorization header; deploy the server with "
                "MlflowAuthentication.disabled(authenticated_by=...) or set sigv4=False"
            )
    if secret_given and (sigv4 or not built_in):
        raise ValueError(
            f"{secret_prop} was given but {clients} do not use MLflow passwords (sigv4=True, or the server "
            f"authenticates IAM principals or nobody): drop {secret_prop}"
        )
    return built_in


class MlflowTrainingConfig:
    """The VPC configuration and environment that let a SageMaker training job log to MLflow.

    Not a construct: it creates nothing and only renders values (CloudFormation tokens until deployment) for
    the SageMaker Python SDK or a ``CreateTrainingJob`` call. The job must run in subnets of the MLflow VPC
    with a security group that the MLflow load balancer admits (``mlflow.allow_from(security_group)``;
    :class:`~mlflow_sagemaker_constructs.studio.domain.StudioDomainOrUser` creates and admits one for you).

    Example, with values passed to the app that creates the jobs (stack outputs, SSM parameters)::

        config = MlflowTrainingConfig(mlflow, security_group=sg, credentials_secret=secret)
        estimator = SKLearn(..., **config.estimator_kwargs())   # subnets=, security_group_ids=, environment=

    How the job authenticates:

    - MLflow built-in authentication: ``credentials_secret`` (JSON ``username``/``password``) is named in
      :data:`CREDENTIALS_SECRET_ENV`; the training script reads it with ``secretsmanager:GetSecretValue``
      (grant with :meth:`grant`) and sets ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` in its
      own process. The password is never part of the job's environment, which ``DescribeTrainingJob`` shows
      to anyone allowed to describe the job.
    - IAM principals (``MlflowAuthentication.iam``): ``MLFLOW_TRACKING_AUTH=aws-iam``; the job's role is its
      MLflow identity, so map it (``StudioDomainOrUser`` maps each user's role; otherwise
      ``mlflow.add_principal_mapping(PrincipalMapping.role(role, username=...))``), and the image needs
      ``mlflow-sagemaker-client``. No credential code in the training script.
    - ``sigv4=True``: ``MLFLOW_TRACKING_AUTH=aws-sigv4``; the job's role needs ``execute-api:Invoke`` on the
      HTTP API (``PrivateHttpApi.grant_invoke``) and the image needs ``mlflow-sagemaker-client``.
    - Server authentication disabled: only ``MLFLOW_TRACKING_URI``.
    """

    def __init__(
        self,
        mlflow: IMlflowTrackingServer,
        *,
        security_group: ec2.ISecurityGroup,
        subnets: ec2.SubnetSelection | None = None,
        credentials_secret: secretsmanager.ISecret | None = None,
        tracking_uri: str | None = None,
        sigv4: bool = False,
        extra_environment: Mapping[str, str] | None = None,
        default_bucket: s3.IBucket | None = None,
        resource_tags: Mapping[str, str] | None = None,
    ) -> None:
        """Describe the training jobs' network and MLflow settings.

        :param mlflow: the MLflow service the jobs log to.
        :param security_group: the jobs' security group; it must be admitted by the MLflow load balancer
            (``mlflow.allow_from(security_group)``) unless the jobs go through an HTTP API (``sigv4``).
        :param subnets: subnets of the MLflow VPC for the jobs. Default: private subnets with egress, or the
            isolated ones when the VPC has none (the VPC then needs endpoints for S3, ECR, CloudWatch Logs,
            Secrets Manager and SageMaker).
        :param credentials_secret: secret with the MLflow ``username`` and ``password``; required when the server
            uses its built-in authentication and ``sigv4`` is off, refused otherwise. Default: none.
        :param tracking_uri: the URI the jobs use. Default: ``mlflow.url``; with ``sigv4`` the HTTP
            API's URL, then required.
        :param sigv4: sign requests with the job role's credentials (``MLFLOW_TRACKING_AUTH=aws-sigv4``).
            Default: False.
        :param extra_environment: more environment variables for the jobs. Default: none.
        :param default_bucket: bucket the SageMaker Python SDK uploads code to and writes outputs to
            (``DefaultS3Bucket`` of :meth:`sagemaker_sdk_config`). Default: the SDK's own default bucket.
        :param resource_tags: tags the SageMaker Python SDK puts on the training jobs, models, endpoint
            configurations and endpoints it creates (:meth:`sagemaker_sdk_config`). Default: none.
        """
        self.mlflow = mlflow
        self.security_group = security_group
        self.subnets = subnets or check.default_private_selection(mlflow.vpc)
        self.credentials_secret = credentials_secret
        self.sigv4 = sigv4
        self.tracking_uri = tracking_uri if tracking_uri is not None else mlflow.url
        self.extra_environment = dict(extra_environment or {})
        self.default_bucket = default_bucket
        self.resource_tags = dict(resource_tags or {})
        self._validate(tracking_uri)
        #: The subnet IDs the jobs run in.
        self.subnet_ids: list[str] = self.vpc_config()["Subnets"]

    def _validate(self, tracking_uri: str | None) -> None:
        built_in = check_client_auth(
            self.mlflow,
            sigv4=self.sigv4,
            tracking_uri=tracking_uri,
            secret_given=self.credentials_secret is not None,
            secret_prop="credentials_secret",
            clients="the jobs",
        )
        if built_in and not self.sigv4 and self.credentials_secret is None:
            raise ValueError(
                "the MLflow server uses its built-in authentication: pass credentials_secret, a secret with the "
                "MLflow 'username' and 'password' of the jobs (StudioDomainOrUser.training_config() does)"
            )
        if not check.is_token(self.tracking_uri) and not self.tracking_uri.startswith(("http://", "https://")):
            raise ValueError(f"tracking_uri ({self.tracking_uri!r}) must start with http:// or https://")
        reserved = {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_PASSWORD", CREDENTIALS_SECRET_ENV}
        clashes = sorted(reserved & set(self.extra_environment))
        if clashes:
            raise ValueError(
                f"extra_environment sets {', '.join(clashes)}, which this configuration sets itself: drop them "
                "(never put MLFLOW_TRACKING_PASSWORD in a job's environment; use credentials_secret)"
            )

    def vpc_config(self) -> dict[str, list[str]]:
        """``VpcConfig`` of ``CreateTrainingJob``: ``{"Subnets": [...], "SecurityGroupIds": [...]}``."""
        return training_vpc_config(self.mlflow.vpc, self.subnets, self.security_group)

    def environment(self) -> dict[str, str]:
        """The jobs' environment variables: the tracking URI and how to authenticate, never a password."""
        env = {"MLFLOW_TRACKING_URI": self.tracking_uri}
        authentication = self.mlflow.authentication
        if authentication.uses_iam_tokens:
            env["MLFLOW_TRACKING_AUTH"] = IAM_AUTH
            if authentication.sts_access is not None and authentication.sts_access.endpoint_url is not None:
                env["MLFLOW_IAM_STS_ENDPOINT"] = authentication.sts_access.endpoint_url
        if self.sigv4:
            env["MLFLOW_TRACKING_AUTH"] = SIGV4_AUTH
        if self.credentials_secret is not None:
            env[CREDENTIALS_SECRET_ENV] = self.credentials_secret.secret_arn
        env.update(self.extra_environment)
        return env

    def estimator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a SageMaker Python SDK ``Estimator``: ``subnets``, ``security_group_ids``,
        ``environment``."""
        vpc = self.vpc_config()
        return {
            "subnets": vpc["Subnets"],
            "security_group_ids": vpc["SecurityGroupIds"],
            "environment": self.environment(),
        }

    def sagemaker_sdk_config(self) -> dict[str, Any]:
        """SageMaker Python SDK defaults (the ``config.yaml`` of its "intelligent defaults") for training jobs.

        ``Estimator`` and ``ModelTrainer`` jobs then run in the VPC with the security group and the MLflow
        environment without any argument; the Studio lifecycle configuration installs this file.
        """
        return _sdk_config(self.vpc_config(), self.environment(), self.default_bucket, self.resource_tags)

    def grant(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Let ``grantee`` (the jobs' role) read the credentials secret; ``None`` when there is no secret.

        With ``sigv4`` grant ``execute-api:Invoke`` separately (``PrivateHttpApi.grant_invoke``).
        """
        if self.credentials_secret is None:
            return None
        return self.credentials_secret.grant_read(grantee)


def training_vpc_config(
    vpc: ec2.IVpc, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup
) -> dict[str, list[str]]:
    """``VpcConfig`` of training jobs in ``subnets`` of ``vpc`` with ``security_group``."""
    selected = check.selected_subnets(vpc, subnets, "subnets")
    return {"Subnets": list(selected.subnet_ids), "SecurityGroupIds": [security_group.security_group_id]}


def _sdk_config(
    vpc_config: Mapping[str, list[str]],
    environment: Mapping[str, str],
    default_bucket: s3.IBucket | None,
    resource_tags: Mapping[str, str],
) -> dict[str, Any]:
    """The SageMaker Python SDK defaults document: training jobs' VPC and environment, the default bucket and
    the tags of what the SDK creates."""
    config: dict[str, Any] = {
        "SchemaVersion": "1.0",
        "SageMaker": {"TrainingJob": {"VpcConfig": dict(vpc_config), "Environment": dict(environment)}},
    }
    if resource_tags:
        tags = [{"Key": key, "Value": value} for key, value in resource_tags.items()]
        for resource in ("TrainingJob", "Model", "EndpointConfig", "Endpoint"):
            config["SageMaker"].setdefault(resource, {})["Tags"] = tags
    if default_bucket is not None:
        config["SageMaker"]["PythonSDK"] = {"Modules": {"Session": {"DefaultS3Bucket": default_bucket.bucket_name}}}
    return config
