"""CREATE DATABASE ... ISOLATION LEVEL and ALTER DATABASE ... ISOLATION LEVEL on PostgreSQL.

Redshift sets the isolation level per database ("CREATE DATABASE", "ALTER DATABASE",
https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_DATABASE.html,
https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_DATABASE.html). Locally the level is the
database's `default_transaction_isolation`, which a connection takes when it opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from sqlglot.tokens import Token

from rsetl.postgres import DEFAULT_ISOLATION_LEVEL, ISOLATION_LEVELS, alter_isolation_sql
from rsetl.redshift_sql.exceptions import RedshiftSqlError, UnsupportedSqlError
from rsetl.redshift_sql.lexer import is_name, word


class DatabaseInUseError(RedshiftSqlError):
    """The isolation level of a database with other connections cannot change."""


@dataclass(frozen=True)
class IsolationCommand:
    """A CREATE DATABASE or an ALTER DATABASE ... ISOLATION LEVEL."""

    database: str
    level: str
    create: bool


def parse_isolation(tokens: list[Token]) -> IsolationCommand | None:
    """The command of a CREATE/ALTER DATABASE statement; None for ALTER DATABASE without ISOLATION LEVEL."""
    words = [word(token) for token in tokens]
    create = words[0] == "CREATE"
    if len(tokens) < 3 or not is_name(tokens[2]):
        raise UnsupportedSqlError(f"{words[0]} DATABASE without a plain database name")
    database = tokens[2].text.lower()
    level = DEFAULT_ISOLATION_LEVEL if create else None
    rest = words[3:]
    for index in range(len(rest) - 2):
        if rest[index : index + 2] == ["ISOLATION", "LEVEL"]:
            level = rest[index + 2]
            if level not in ISOLATION_LEVELS:
                raise UnsupportedSqlError(
                    f"ISOLATION LEVEL {level}", f"Redshift has {' and '.join(ISOLATION_LEVELS)}"
                )
            rest = rest[:index] + rest[index + 3 :]
            break
    if level is None:
        return None
    if [w for w in rest if w != "WITH"]:
        raise UnsupportedSqlError(f"{words[0]} DATABASE options other than ISOLATION LEVEL")
    return IsolationCommand(database, level, create)


def run_isolation(conn: psycopg.Connection[Any], command: IsolationCommand) -> None:
    """Create the database or change its level; a level changes only without other connections."""
    with conn.cursor() as cursor:
        if command.create:
            cursor.execute(f'CREATE DATABASE "{command.database}"'.encode())
        else:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (command.database,),
            )
            row = cursor.fetchone()
            others = int(row[0]) if row else 0
            if others:
                raise DatabaseInUseError(
                    f'database "{command.database}" is being accessed by other users: '
                    f"its isolation level changes only when no other session is connected "
                    f"({others} other session(s))"
                )
        cursor.execute(alter_isolation_sql(command.database, command.level).encode())
