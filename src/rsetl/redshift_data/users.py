"""Database users: which user the Data API runs a request as, and their PostgreSQL login roles.

A Redshift user is a PostgreSQL role with LOGIN; a Redshift role (CREATE ROLE) is one without.
Statements run on connections that log in as the user itself, so nothing in the user's SQL
(`SET ROLE`, `RESET ROLE`, `SET SESSION AUTHORIZATION`) can reach another user's privileges.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from rsetl.awsproto import RequestContext
from rsetl.redshift_data.exceptions import ValidationException

ADMIN_USER = "awsuser"
"""The admin user name the Redshift console proposes for a new cluster or namespace."""

DB_ROLES_TAG = "RedshiftDbRoles"
"""IAM tag whose colon-separated value names the database roles a Serverless login is granted."""

_MAX_NAME_BYTES = 63
"""PostgreSQL's identifier limit (NAMEDATALEN - 1); Redshift allows 127 bytes."""

# Serialises role creation across services sharing one server (CREATE ROLE races fail).
_LOGIN_LOCK_KEY = 0x7273_6574_6C01


class LoginError(Exception):
    """The database user cannot log in; the message is the Data API's error text."""


@dataclass(frozen=True)
class DatabaseLogin:
    """A database user and the database roles its login maps to (from the IAM role's tag)."""

    user: str
    db_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseAuth:
    """How requests map to database users (the runtime fills it from template.yaml)."""

    admin_user: str = ADMIN_USER
    secrets: Mapping[str, str] = field(default_factory=dict)
    """SecretArn to the user name the secret holds (no Secrets Manager is emulated)."""
    role_tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """IAM role name to its tags."""

    def login_for(self, params: Mapping[str, Any], context: RequestContext) -> DatabaseLogin:
        """The user a request runs as, by the Data API's authentication rules.

        SecretArn: the secret's user. ClusterIdentifier + DbUser: that user (temporary credentials).
        Otherwise the caller's IAM identity: `IAMR:<role name>` for a role, with the database roles
        its `RedshiftDbRoles` tag names on Serverless. The local administrator (the `test`
        credentials, no role) is the account's administrator and runs as the admin user.
        """
        secret = params.get("SecretArn")
        if secret:
            user = self.secrets.get(str(secret))
            if user is None:
                raise ValidationException(
                    f"Secrets Manager can't find the specified secret {secret}; "
                    "the local runtime knows only the secrets given in its options."
                )
            return DatabaseLogin(user)
        db_user = params.get("DbUser")
        if db_user:
            if params.get("WorkgroupName"):
                raise ValidationException(
                    "DbUser applies to provisioned clusters only; Redshift Serverless maps the IAM identity."
                )
            return DatabaseLogin(str(db_user))
        if context.role_name is None:
            return DatabaseLogin(self.admin_user)
        roles: tuple[str, ...] = ()
        if params.get("WorkgroupName"):
            tag = self.role_tags.get(context.role_name, {}).get(DB_ROLES_TAG, "")
            roles = tuple(name for name in tag.split(":") if name)
        return DatabaseLogin(f"IAMR:{context.role_name}", roles)


class DatabaseUsers:
    """Creates database users on first use (PUBLIC's privileges only) and says how to log in as them.

    `conninfo` maps a database name to a superuser connection string; the admin user is created
    as a superuser, as a cluster's admin user is.
    """

    def __init__(self, conninfo: Callable[[str], str], admin_user: str = ADMIN_USER) -> None:
        self._conninfo = conninfo
        self.admin_user = admin_user
        self._lock = threading.Lock()
        self._ready: set[DatabaseLogin] = set()
        base = conninfo_to_dict(conninfo("postgres"))
        self._seed = f"{base.get('host')}:{base.get('port')}:{base.get('password')}"

    def conninfo(self, database: str, login: DatabaseLogin) -> str:
        """A connection string that logs in to `database` as `login.user`, creating it first if needed."""
        self.ensure(login)
        return make_conninfo(self._conninfo(database), user=login.user, password=self._password(login.user))

    def admin(self) -> DatabaseLogin:
        return DatabaseLogin(self.admin_user)

    def ensure(self, login: DatabaseLogin) -> None:
        """Create the user if it does not exist and grant it the login's database roles that exist."""
        with self._lock:
            if login in self._ready:
                return
            if len(login.user.encode()) > _MAX_NAME_BYTES:
                raise LoginError(
                    f'FATAL: database user "{login.user}" is longer than the {_MAX_NAME_BYTES} bytes '
                    "a local PostgreSQL role name can have"
                )
            try:
                self._create(login)
            except psycopg.Error as error:
                raise LoginError(f"FATAL: cannot log in as {login.user}: {error}") from error
            self._ready.add(login)

    def _create(self, login: DatabaseLogin) -> None:
        user = sql.Identifier(login.user)
        superuser = sql.SQL("SUPERUSER" if login.user == self.admin_user else "NOSUPERUSER")
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOGIN_LOCK_KEY,))
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login.user,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN {}").format(user, superuser))
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(user, sql.Literal(self._password(login.user)))
            )
            for role in login.db_roles:
                # A role the tag names but the database lacks is ignored, as Redshift does.
                known = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s AND NOT rolcanlogin", (role,)
                ).fetchone()
                if known is not None:
                    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), user))

    def _password(self, user: str) -> str:
        # Stable per server, so services sharing one server agree on it.
        return hashlib.sha256(f"{self._seed}:{user}".encode()).hexdigest()
