"""Install the compatibility functions (schema `rsetl_compat`) into a database."""

from __future__ import annotations

from functools import cache
from importlib import resources

import psycopg

COMPAT_SCHEMA = "rsetl_compat"

# DECODE(expr, search1, result1, ..., [default]) overloads for up to this many search/result pairs.
# Results share one common type (string literals resolve to text); searches take the type of expr.
_DECODE_MAX_PAIRS = 12

# Serialises concurrent installs: CREATE OR REPLACE FUNCTION races fail with "tuple concurrently updated".
_INSTALL_LOCK_KEY = 0x7273_6574_6C00


@cache
def compat_sql() -> str:
    """The full install script: the functions, Redshift's default privileges (privileges.sql), then
    the materialized-view system tables (matviews.sql)."""
    package = resources.files("rsetl.redshift_sql")
    script = package.joinpath("compat.sql").read_text(encoding="utf-8")
    privileges = package.joinpath("privileges.sql").read_text(encoding="utf-8")
    matviews = package.joinpath("matviews.sql").read_text(encoding="utf-8")
    return "\n".join([script, *_decode_overloads(), privileges, matviews])


def install_compat(conn: psycopg.Connection) -> None:
    """Create or replace every compat function in the connected database (idempotent)."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_INSTALL_LOCK_KEY,))
        cursor.execute(compat_sql().encode())


def _decode_overloads() -> list[str]:
    statements = []
    for pairs in range(1, _DECODE_MAX_PAIRS + 1):
        for has_default in (False, True):
            params = ["expr anyelement"]
            branches = []
            for index in range(1, pairs + 1):
                params += [f"search{index} anyelement", f"result{index} anycompatible"]
                branches.append(f"WHEN expr IS NOT DISTINCT FROM search{index} THEN result{index}")
            otherwise = "ELSE otherwise " if has_default else ""
            if has_default:
                params.append("otherwise anycompatible")
            statements.append(
                f"CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.decode({', '.join(params)})\n"
                f"RETURNS anycompatible\n"
                f"LANGUAGE sql IMMUTABLE PARALLEL SAFE\n"
                f"AS $$ SELECT CASE {' '.join(branches)} {otherwise}END $$;"
            )
    return statements
