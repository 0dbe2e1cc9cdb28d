"""Files that hold secrets: readable and writable by their owner only (0600), from their first byte.

The SQLite database (encrypted tokens, client data), the configuration `billsync sandbox
--write-config` writes (client secrets, the gateway's secret key), the secret key file, and the
files a person asks for that hold client names and money (the report dashboard, a pre-bill as
HTML or PDF, a LEDES file). A file
created with the usual umask is world-readable (0644) until someone narrows it; these are
created 0600 instead, so no other account on the machine ever reads them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, text: str, *, encoding: str = "utf-8", newline: str | None = None) -> None:
    """Write `text` to `path` (replacing what it held), mode 0600.

    A new file is created 0600; an existing one is narrowed to 0600 before the text goes in.
    `newline=""` writes line endings exactly as `text` has them (a LEDES file's CRLF).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(fd, "w", encoding=encoding, newline=newline) as out:
        os.fchmod(out.fileno(), PRIVATE_MODE)
        out.write(text)


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` (replacing what it held), mode 0600, as `write_private` does text."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), PRIVATE_MODE)
        out.write(data)


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (SQLite then builds its database in it).

    SQLite gives its journal and WAL files the database file's mode, so they are 0600 too. A
    folder that does not exist is left for SQLite to report as it always has.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except (FileExistsError, FileNotFoundError, NotADirectoryError):
        return
    os.close(fd)


def others_may_read(path: Path) -> bool:
    """The file's group or other users may read it."""
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
