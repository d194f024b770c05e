"""Who authenticates requests to the MLflow server: an option object with one factory per mode."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk

from mlflow_sagemaker_constructs.tracking_server.principal_mapping import PrincipalMapping
from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.sts_access import StsAccess


class DefaultPermission(enum.Enum):
    """MLflow's permission for users on resources they were not granted anything on."""

    NO_PERMISSIONS = "NO_PERMISSIONS"
    READ = "READ"
    EDIT = "EDIT"
    MANAGE = "MANAGE"


class AuthenticationMode(enum.Enum):
    """How the server authenticates each request."""

    BASIC = "basic"
    """MLflow's built-in users and passwords (HTTP basic authentication, the ``Authorization`` header)."""

    IAM = "iam"
    """AWS IAM principals are MLflow users (an IAM token in ``X-Mlflow-Iam-Token``); basic authentication stays
    for the admin and for users with passwords."""

    DISABLED = "disabled"
    """The server authenticates nobody; something in front of it must (see ``authenticated_by``)."""


#: The server image's default, kept in one place (the contract); a test ties them together.
DEFAULT_PERMISSION = DefaultPermission(contract.DEFAULT_AUTH_DEFAULT_PERMISSION)
DEFAULT_CACHE_TTL_SECONDS = contract.DEFAULT_AUTH_CACHE_TTL_SECONDS


@dataclass(frozen=True)
class MlflowAuthentication:
    """The server's authentication: :meth:`iam`, :meth:`basic_auth` (the default) or :meth:`disabled`.

    Turning server authentication off requires saying who authenticates instead, so that an
    unauthenticated server is always a written decision, and the constructs refuse compositions in which
    nothing authenticates (see the security model page).
    """

    mode: AuthenticationMode
    admin_username: str = contract.DEFAULT_AUTH_ADMIN_USERNAME
    default_permission: DefaultPermission = DEFAULT_PERMISSION
    cache_ttl_seconds: int = DEFAULT_CACHE_TTL_SECONDS
    authenticated_by: str | None = None
    principals: tuple[PrincipalMapping, ...] = ()
    sts_access: StsAccess | None = None
    sts_timeout: cdk.Duration | None = None

    @property
    def enabled(self) -> bool:
        """True when the server itself authenticates requests."""
        return self.mode is not AuthenticationMode.DISABLED

    @property
    def uses_authorization_header(self) -> bool:
        """True when clients put credentials in ``Authorization`` (so nothing in front may use it)."""
        return self.mode is AuthenticationMode.BASIC

    @property
    def uses_iam_tokens(self) -> bool:
        """True when clients authenticate as IAM principals (``MLFLOW_TRACKING_AUTH=aws-iam``)."""
        return self.mode is AuthenticationMode.IAM

    @staticmethod
    def iam(
        *,
        principals: Sequence[PrincipalMapping] = (),
        sts_access: StsAccess | None = None,
        sts_timeout: cdk.Duration | None = None,
        admin_username: str = contract.DEFAULT_AUTH_ADMIN_USERNAME,
        default_permission: DefaultPermission = DEFAULT_PERMISSION,
        cache_ttl_seconds: int = DEFAULT_CACHE_TTL_SECONDS,
    ) -> MlflowAuthentication:
        """AWS IAM principals are MLflow users, with MLflow's own per-experiment and per-model permissions.

        Clients (``pip install mlflow-sagemaker-client``, ``MLFLOW_TRACKING_AUTH=aws-iam``) send a signed,
        unsent ``sts:GetCallerIdentity`` request; the server has STS verify it and maps the caller's ARN to a
        user with ``principals`` (first match wins), creating the user on first use. Nobody holds a password.
        Basic authentication stays for the admin (break-glass, its password in ``admin_secret``) and for users
        an admin gives passwords. See the security model page for the token and the threat model.

        :param principals: the mapping rules (:class:`PrincipalMapping`); ``StudioDomainOrUser`` and
            :meth:`SecureMlflowService.add_principal_mapping` add more. Default: none (only added rules).
        :param sts_access: how the server reaches STS (:class:`StsAccess`). Default: ``StsAccess.egress()``.
        :param sts_timeout: how long the server waits for STS before answering 503. Default: 5 seconds.
        :param admin_username: the break-glass admin with a generated password. Default: ``"admin"``.
        :param default_permission: what users may do on experiments and models they were not granted
            anything on. Default: ``NO_PERMISSIONS``.
        :param cache_ttl_seconds: how long a verified principal's user and a looked-up user are cached per
            worker (a deleted user or a revoked admin takes effect within it). Default: 60.
        """
        auth = MlflowAuthentication(
            AuthenticationMode.IAM,
            admin_username=admin_username,
            default_permission=default_permission,
            cache_ttl_seconds=cache_ttl_seconds,
            principals=tuple(principals),
            sts_access=sts_access or StsAccess.egress(),
            sts_timeout=sts_timeout or cdk.Duration.seconds(contract.DEFAULT_AUTH_IAM_STS_TIMEOUT_SECONDS),
        )
        auth.validate()
        return auth

    @staticmethod
    def basic_auth(
        *,
        admin_username: str = contract.DEFAULT_AUTH_ADMIN_USERNAME,
        default_permission: DefaultPermission = DEFAULT_PERMISSION,
        cache_ttl_seconds: int = DEFAULT_CACHE_TTL_SECONDS,
    ) -> MlflowAuthentication:
        """MLflow's ``basic-auth`` app with its users and permissions in a PostgreSQL database.

        :param admin_username: the admin user created on first start; its password is generated into
            Secrets Manager (``admin_secret``). Default: ``"admin"``.
        :param default_permission: what users may do on experiments and models they were not granted
            anything on. Default: ``NO_PERMISSIONS`` (users see only what they created or were granted).
        :param cache_ttl_seconds: how long a verified password and a looked-up user are cached per worker;
            changes made on another task take effect within this time. Without a cache every request
            re-hashes the password (measured: 4.7 req/s without, 99 req/s with 60 s). Default: 60.
        """
        auth = MlflowAuthentication(
            AuthenticationMode.BASIC,
            admin_username=admin_username,
            default_permission=default_permission,
            cache_ttl_seconds=cache_ttl_seconds,
        )
        auth.validate()
        return auth

    @staticmethod
    def disabled(*, authenticated_by: str) -> MlflowAuthentication:
        """No authentication in the server; ``authenticated_by`` names what authenticates instead.

        For example ``"IAM (SigV4) at the PrivateHttpApi"``. Every client that can reach the load balancer
        can then read and write everything, so the constructs admit only that component to it.

        :param authenticated_by: a non-empty sentence naming what authenticates requests instead.
        """
        auth = MlflowAuthentication(AuthenticationMode.DISABLED, authenticated_by=authenticated_by)
        auth.validate()
        return auth

    def validate(self) -> None:
        """Reject values that cannot work; the message names the parameter."""
        if self.mode is AuthenticationMode.DISABLED:
            if not (self.authenticated_by or "").strip():
                raise ValueError(
                    "MlflowAuthentication.disabled(authenticated_by=...) needs to say who authenticates instead, "
                    "e.g. 'IAM (SigV4) at the PrivateHttpApi', or keep MlflowAuthentication.basic_auth()"
                )
            return
        if self.cache_ttl_seconds < 0:
            raise ValueError(f"cache_ttl_seconds ({self.cache_ttl_seconds}) must be 0 or more")
        if self.sts_timeout is not None and not 1 <= self.sts_timeout.to_seconds() <= 30:
            raise ValueError(
                f"sts_timeout ({self.sts_timeout.to_seconds():g} s) must be 1 to 30 seconds: a request waits that long "
                "for STS when it is unreachable"
            )
        if not self.admin_username.strip() or ":" in self.admin_username:
            raise ValueError(
                f"admin_username ({self.admin_username!r}) must be a non-empty user name without ':' (HTTP basic "
                "authentication separates user and password with it)"
            )

    def container_environment(self) -> dict[str, str]:
        """The contract variables of this mode (secrets are added by the service)."""
        if not self.enabled:
            return {contract.AUTH_ENABLED: "false"}
        env = {
            contract.AUTH_ENABLED: "true",
            contract.AUTH_ADMIN_USERNAME: self.admin_username,
            contract.AUTH_DEFAULT_PERMISSION: self.default_permission.value,
            contract.AUTH_CACHE_TTL_SECONDS: str(self.cache_ttl_seconds),
        }
        if self.uses_iam_tokens:
            assert self.sts_timeout is not None
            env[contract.AUTH_IAM_ENABLED] = "true"
            env[contract.AUTH_IAM_STS_TIMEOUT_SECONDS] = str(int(self.sts_timeout.to_seconds()))
        return env
