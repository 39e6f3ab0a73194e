"""Files that hold patient data, secrets or logs are readable by the service's user only.

Every server and staff tool calls :func:`private_files` first: from then on the process
creates folders 0700 and files 0600 (``umask 077``), SQLite's ``-wal``/``-shm`` files and
log files included. :func:`private_folder` also tightens a folder that already exists (a
``var/`` made by an older version with 0755).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PRIVATE_UMASK = 0o077


def private_files() -> None:
    """Files and folders this process creates from now on are its user's only."""
    os.umask(PRIVATE_UMASK)


def private_sqlite_files(dbapi_connection: Any) -> None:
    """The files of an open SQLite database (and its ``-wal``/``-shm``) become 0600, even
    if a process without :func:`private_files` created them (SQLite gives the journal
    files the database file's mode)."""
    cursor = dbapi_connection.cursor()
    try:
        files = [row[2] for row in cursor.execute("PRAGMA database_list") if row[2]]
    finally:
        cursor.close()
    for name in files:
        for path in (Path(name), Path(name + "-wal"), Path(name + "-shm")):
            try:
                if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
                    path.chmod(0o600)
            except OSError:
                continue  # not there (yet), or not ours


def private_folder(path: Path) -> Path:
    """Create ``path`` (and parents) as 0700; an existing folder of ours becomes 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except OSError:
        pass  # not ours to change (e.g. a system folder): leave it as it is
    return path
