"""Who authenticates requests to the MLflow server: an option object with one factory per mode."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mlflow_sagemaker_constructs.tracking_server.server import contract


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

    DISABLED = "disabled"
    """The server authenticates nobody; something in front of it must (see ``authenticated_by``)."""


#: The server image's default, kept in one place (the contract); a test ties them together.
DEFAULT_PERMISSION = DefaultPermission(contract.DEFAULT_AUTH_DEFAULT_PERMISSION)
DEFAULT_CACHE_TTL_SECONDS = contract.DEFAULT_AUTH_CACHE_TTL_SECONDS


@dataclass(frozen=True)
class MlflowAuthentication:
    """The server's authentication: :meth:`basic_auth` (the default) or :meth:`disabled`.

    Turning server authentication off requires saying who authenticates instead, so that an
    unauthenticated server is always a written decision, and the constructs refuse compositions in which
    nothing authenticates (see the security model page).
    """

    mode: AuthenticationMode
    admin_username: str = contract.DEFAULT_AUTH_ADMIN_USERNAME
    default_permission: DefaultPermission = DEFAULT_PERMISSION
    cache_ttl_seconds: int = DEFAULT_CACHE_TTL_SECONDS
    authenticated_by: str | None = None

    @property
    def enabled(self) -> bool:
        """True when the server itself authenticates requests."""
        return self.mode is not AuthenticationMode.DISABLED

    @property
    def uses_authorization_header(self) -> bool:
        """True when clients put credentials in ``Authorization`` (so nothing in front may use it)."""
        return self.mode is AuthenticationMode.BASIC

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
        if not self.admin_username.strip() or ":" in self.admin_username:
            raise ValueError(
                f"admin_username ({self.admin_username!r}) must be a non-empty user name without ':' (HTTP basic "
                "authentication separates user and password with it)"
            )

    def container_environment(self) -> dict[str, str]:
        """The contract variables of this mode (secrets are added by the service)."""
        if not self.enabled:
            return {contract.AUTH_ENABLED: "false"}
        return {
            contract.AUTH_ENABLED: "true",
            contract.AUTH_ADMIN_USERNAME: self.admin_username,
            contract.AUTH_DEFAULT_PERMISSION: self.default_permission.value,
            contract.AUTH_CACHE_TTL_SECONDS: str(self.cache_ttl_seconds),
        }
