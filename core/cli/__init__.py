"""The `billsync` command line: what a firm's IT staff run.

Each module registers its commands on the shared app; importing them here is the explicit list.
"""

from __future__ import annotations

import sys

from sqlalchemy.exc import DBAPIError

from core.cli import billing, demo, local, payments, reports, run, vendors  # noqa: F401 - registers the commands
from core.cli.common import app, say
from core.errors import BillsyncError
from core.logging import configure_logging


def main() -> None:
    """Console entry point: clear one-line errors instead of tracebacks for expected failures."""
    configure_logging()
    try:
        app()  # standalone: usage errors and --help exit here with click's own messages
    except BillsyncError as exc:
        # The message may carry vendor or user text: printed as text, on one line however long.
        say(("error:", "red"), " ", " ".join(str(exc).split()))
        sys.exit(2)
    except DBAPIError as exc:  # a store that cannot be opened or read: a corrupt file, a missing folder
        # The driver's own words only: SQLAlchemy's message would add the statement and its values.
        say(("error:", "red"), " ", f"the database cannot be used: {' '.join(str(exc.orig).split())}")
        sys.exit(2)
