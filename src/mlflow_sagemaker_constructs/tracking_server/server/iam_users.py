"""MLflow users for IAM principals: created on first use (or at start for exact rules), never resurrected.

A mapped principal's MLflow user is created with a random password nobody knows, so it can only be used
through IAM. Every user created that way is recorded in a table of its own in the auth database; when an
admin deletes such a user, the principal gets 403 instead of a new user, so deleting revokes.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from .principals import Mapping, Principal, Rule, provisioned_usernames

if TYPE_CHECKING:
    import sqlalchemy

_logger = logging.getLogger(__name__)

TABLE_NAME = "mlflow_sagemaker_iam_users"


def table(metadata: sqlalchemy.MetaData) -> sqlalchemy.Table:
    import sqlalchemy

    return sqlalchemy.Table(
        TABLE_NAME,
        metadata,
        sqlalchemy.Column("username", sqlalchemy.String(255), primary_key=True),
        sqlalchemy.Column("principal", sqlalchemy.String(2048), nullable=False),
        sqlalchemy.Column("provisioned_at", sqlalchemy.BigInteger, nullable=False),
    )


def create_table(engine: sqlalchemy.Engine) -> None:
    """Create the record table if it is missing (the entrypoint calls this under the auth migration lock)."""
    import sqlalchemy

    table(sqlalchemy.MetaData()).create(engine, checkfirst=True)


class UserDeletedError(Exception):
    """The principal's MLflow user was created for it once and has since been deleted."""


class Provisioner:
    """Creates and looks up the MLflow users of IAM principals, through MLflow's auth store."""

    def __init__(self, store: Any) -> None:
        import sqlalchemy

        self.store = store
        self._table = table(sqlalchemy.MetaData())

    def _engine(self) -> sqlalchemy.Engine:
        engine: sqlalchemy.Engine = self.store.engine
        return engine

    def was_provisioned(self, username: str) -> bool:
        import sqlalchemy

        with self._engine().connect() as connection:
            found = connection.execute(
                sqlalchemy.select(self._table.c.username).where(self._table.c.username == username)
            ).first()
        return found is not None

    def _record(self, username: str, principal: str) -> None:
        import sqlalchemy

        try:
            with self._engine().begin() as connection:
                connection.execute(
                    self._table.insert().values(username=username, principal=principal, provisioned_at=int(time.time()))
                )
        except sqlalchemy.exc.IntegrityError:
            pass  # another worker recorded it first

    def _create(self, username: str, principal: str, admin: bool) -> None:
        from mlflow.exceptions import MlflowException

        try:
            # 48 random bytes nobody ever sees: the user can only be used through IAM.
            self.store.create_user(username, secrets.token_urlsafe(48), is_admin=admin)
            _logger.info("created MLflow user %r for IAM principal %s", username, principal)
        except MlflowException:
            if not self.store.has_user(username):
                raise  # not a race with another worker: a real failure
        self._record(username, principal)

    def user_for(self, principal: Principal, mapping: Mapping) -> str:
        """The MLflow user of ``principal``: existing, or created now; raises :class:`UserDeletedError`."""
        username = mapping.username
        if self.store.has_user(username):
            if mapping.admin and not self.store.get_user(username).is_admin:
                self.store.update_user(username, is_admin=True)
            return username
        if self.was_provisioned(username):
            raise UserDeletedError(username)
        self._create(username, principal.arn, mapping.admin)
        return username

    def provision(self, rules: list[Rule]) -> None:
        """Create the users exact rules name, unless they were created and deleted before."""
        for username, admin in provisioned_usernames(rules):
            if self.store.has_user(username) or self.was_provisioned(username):
                continue
            self._create(username, f"mapping rule for {username}", admin)
