"""The `billsync` command line: what a firm's IT staff run.

Each module registers its commands on the shared app; importing them here is the explicit list.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from core.cli import billing, demo, local, payments, reports, run, vendors  # noqa: F401 - registers the commands
from core.cli.common import app, console
from core.errors import BillsyncError
from core.logging import configure_logging


def main() -> None:
    """Console entry point: clear one-line errors instead of tracebacks for expected failures."""
    configure_logging()
    try:
        app()  # standalone: usage errors and --help exit here with click's own messages
    except BillsyncError as exc:
        # The message is data (it may quote a vendor, a path or a TOML section such as [firms.x.payments]):
        # never rich markup, and one line however long.
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
