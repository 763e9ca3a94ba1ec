"""Files written so that a crash leaves the old file or the new one: a temporary file, fsync,
rename, and the directory fsynced."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["fsync_dir", "make_dir", "write_atomically"]


def write_atomically(path: Path, content: bytes | Any, *, durable: bool = True) -> None:
    """Write `content` (bytes or a readable file) to `path` so a crash leaves the old file or the new one.

    Not `durable`: the rename is not fsynced, so a crash may leave the old file (never a torn one).
    """
    make_dir(path.parent)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(descriptor, "wb") as file:
            if isinstance(content, bytes):
                file.write(content)
            else:
                shutil.copyfileobj(content, file, 1024 * 1024)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def make_dir(path: Path) -> None:
    """Create `path` (and its parents) durably: a new directory's entry is fsynced in its parent."""
    if path.is_dir():
        return
    make_dir(path.parent)
    path.mkdir(exist_ok=True)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make the entries of directory `path` (a rename, a removal) durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
