"""Who authenticates requests to the MLflow server."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DefaultPermission(enum.Enum):
    """MLflow's permission for users on resources they were not granted anything on."""

    NO_PERMISSIONS = "NO_PERMISSIONS"
    READ = "READ"
    EDIT = "EDIT"
    MANAGE = "MANAGE"


@dataclass(frozen=True)
class MlflowAuthentication:
    """The server's authentication mode: MLflow's built-in ``basic-auth`` app, or none with a named stand-in.

    Use :meth:`built_in` (the default) or :meth:`disabled`; turning server authentication off requires
    saying who authenticates instead, so that an unauthenticated server is always a written decision.
    """

    enabled: bool
    admin_username: str = "admin"
    default_permission: DefaultPermission = DefaultPermission.NO_PERMISSIONS
    cache_ttl_seconds: int = 60
    authenticated_by: str | None = None

    @staticmethod
    def built_in(
        *,
        admin_username: str = "admin",
        default_permission: DefaultPermission = DefaultPermission.NO_PERMISSIONS,
        cache_ttl_seconds: int = 60,
    ) -> MlflowAuthentication:
        """MLflow's ``basic-auth`` app with its users and permissions in a PostgreSQL database.

        :param admin_username: the admin user created on first start; its password is generated into
            Secrets Manager (``admin_secret``). Default: ``"admin"``.
        :param default_permission: what users may do on experiments and models they were not granted
            anything on. Default: ``NO_PERMISSIONS`` (users see only what they created or were granted).
        :param cache_ttl_seconds: how long a verified password is cached. Without a cache every request
            re-hashes the password (measured: 4.7 req/s without, 99 req/s with 60 s). Default: 60.
        """
        return MlflowAuthentication(
            enabled=True,
            admin_username=admin_username,
            default_permission=default_permission,
            cache_ttl_seconds=cache_ttl_seconds,
        )

    @staticmethod
    def disabled(*, authenticated_by: str) -> MlflowAuthentication:
        """No authentication in the server; ``authenticated_by`` names what authenticates instead.

        For example ``"IAM (SigV4) at the PrivateHttpApi"``. Every client that can reach the load balancer
        can then read and write everything, so keep the load balancer reachable only from that component.
        """
        return MlflowAuthentication(enabled=False, authenticated_by=authenticated_by)
