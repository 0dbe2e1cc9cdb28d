"""The `billsync` command line: what a firm's IT staff run.

Each module registers its commands on the shared app; importing them here is the explicit list.
Other distributions add commands through the `billsync.commands` entry points (core.plugins.COMMANDS):
billsync-sandboxes adds `demo` and `sandbox`, which a production install leaves out.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import DBAPIError

from core.cli import billing, local, payments, reports, run, vendors  # noqa: F401 - registers the commands
from core.cli.common import app, say
from core.errors import BillsyncError, ConfigError
from core.logging import configure_logging
from core.plugins import COMMANDS, SANDBOXES_MISSING, load_all

# Commands billsync-sandboxes brings. Without it each still answers, in one line, how to install it,
# rather than click's "No such command"; hidden, so a production `billsync --help` does not offer them.
SANDBOX_COMMANDS = ("demo", "sandbox")


def main() -> None:
    """Console entry point: clear one-line errors instead of tracebacks for expected failures."""
    configure_logging()
    try:
        add_plugin_commands()
        app()  # standalone: usage errors and --help exit here with click's own messages
    except BillsyncError as exc:
        # The message may carry vendor or user text: printed as text, on one line however long.
        say(("error:", "red"), " ", " ".join(str(exc).split()))
        sys.exit(2)
    except DBAPIError as exc:  # a store that cannot be opened or read: a corrupt file, a missing folder
        # The driver's own words only: SQLAlchemy's message would add the statement and its values.
        say(("error:", "red"), " ", f"the database cannot be used: {' '.join(str(exc.orig).split())}")
        sys.exit(2)


def add_plugin_commands() -> None:
    """Add each command registered under `billsync.commands`, then a placeholder for each sandbox command missing.

    Done when the CLI runs, not when core.cli is imported: the plugins import core.cli themselves.
    Idempotent: a name already on the app is left as it is.
    """
    taken = {
        command.name or command.callback.__name__.replace("_", "-")
        for command in app.registered_commands
        if command.callback
    }
    taken |= {group.name for group in app.registered_groups if group.name}
    provided = load_all(COMMANDS)
    for name, command in provided.items():
        if name in taken:
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command(name=name)(command)
        taken.add(name)
    for name in SANDBOX_COMMANDS:
        if name not in taken:
            # Any options are accepted, --help too: whatever was asked, the answer is how to install them.
            settings = {"allow_extra_args": True, "ignore_unknown_options": True}
            app.command(name=name, hidden=True, add_help_option=False, context_settings=settings)(_sandboxes_missing)


def _sandboxes_missing() -> None:
    raise ConfigError(SANDBOXES_MISSING)
