"""Row ids."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A 32-character hex id that sorts by creation time.

    Time-ordered ids keep index inserts at the right edge of each B-tree, which makes bulk
    capture much faster than random ids; the process id and 56 random bits keep ids made
    in the same microsecond apart.
    """
    return f"{time.time_ns() // 1000:014x}{os.getpid() & 0xFFFF:04x}{os.urandom(7).hex()}"
