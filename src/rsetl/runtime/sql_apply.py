"""Applies the project's `sql/` folder to the local database, in file order, once per file version."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from rsetl.redshift_sql import RedshiftSqlRunner, split_statements

logger = logging.getLogger(__name__)

_LEDGER = "rsetl_local.applied_sql"


class SqlApplyError(Exception):
    """A statement of a `sql/` file failed; the message names the file and the statement."""


@dataclass(frozen=True)
class AppliedFile:
    path: Path
    statements: int
    skipped: bool


def apply_sql_folder(
    conn: psycopg.Connection[Any],
    folder: Path,
    runner: RedshiftSqlRunner,
    progress: Callable[[AppliedFile], None] | None = None,
) -> list[AppliedFile]:
    """Run every `*.sql` file of `folder` in name order; files already applied unchanged are skipped.

    Each file runs in one transaction, so a failing file leaves nothing half-applied.
    """
    conn.autocommit = True
    conn.execute("CREATE SCHEMA IF NOT EXISTS rsetl_local")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_LEDGER} "
        "(file text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied: list[AppliedFile] = []
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text()
        digest = hashlib.sha256(text.encode()).hexdigest()
        row = conn.execute(f"SELECT sha256 FROM {_LEDGER} WHERE file = %s", (path.name,)).fetchone()
        if row is not None and row[0] == digest:
            result = AppliedFile(path, 0, skipped=True)
        else:
            statements = split_statements(text)
            with conn.transaction():
                for number, statement in enumerate(statements, 1):
                    try:
                        runner.run(conn, statement, None)
                    except Exception as error:
                        first_line = statement.strip().splitlines()[0][:120]
                        raise SqlApplyError(
                            f"{path.name}, statement {number} ({first_line}): {error}"
                        ) from error
                conn.execute(
                    f"INSERT INTO {_LEDGER} (file, sha256) VALUES (%s, %s) "
                    "ON CONFLICT (file) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()",
                    (path.name, digest),
                )
            result = AppliedFile(path, len(statements), skipped=False)
        applied.append(result)
        if progress is not None:
            progress(result)
    return applied
