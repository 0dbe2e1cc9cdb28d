"""`billsync demo`: a synthetic firm's month through the sandboxes and one sync cycle.

The command reaches billsync's CLI through the `billsync.commands` entry point (sandboxes/pyproject.toml).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from billsync_sandboxes.cli.month_end import MONTH_END_SETTINGS, month_end
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.firm import (
    DEFAULT_SOURCES,
    DEMO_ACTIVITIES,
    DEMO_RATE_LIMIT,
    MONTH_NAME,
    demo_clocks,
    demo_firm,
    demo_seeds,
)
from billsync_sandboxes.kit.server import build_server_app
from config.settings import load_settings
from core.cli.common import console, print_entries, print_findings, say, text_cells
from core.cli.vendors import print_sync_report
from core.connector import ConnectorRole
from core.errors import ConfigError
from core.logging import configure_logging
from core.models import EntryState, TimeEntry
from core.plugins import SANDBOXES, load, names, require_sandboxes
from core.process import tune_garbage_collector
from core.runtime import connectors_offering
from core.serving import run_in_thread

# The demo firm refuses to send vague narratives to its clients: such entries are held in
# billsync with the reason, and never written to the PMS, until someone rewrites them.
DEMO_RULES = """
[firms.demo.rules.firm.vague_narrative]
severity = "block"
"""


def demo(
    activities: Annotated[int, typer.Option(help="How many activities the synthetic month has.")] = DEMO_ACTIVITIES,
    keep: Annotated[Path | None, typer.Option(help="Keep the demo's config and database in this folder.")] = None,
    pms: Annotated[
        str, typer.Option(help="The PMS the demo firm uses: an installed PMS connector with a sandbox.")
    ] = "clio",
    # `--pms` under its old name, still accepted and hidden from --help.
    system_of_record: Annotated[str | None, typer.Option("--system-of-record", hidden=True)] = None,
    sources: Annotated[
        list[str] | None,
        typer.Option("--source", help="Activity sources beside it (repeat; default: netdocuments, microsoft365)."),
    ] = None,
) -> None:
    """Start the sandboxes with a realistic firm, run one sync cycle, and show what it did."""
    require_sandboxes()
    configure_logging(level="warning")  # the demo's tables say what happened; logs would drown them
    firm = demo_firm(activities)
    vendor = pms if system_of_record is None else system_of_record
    refuse_what_cannot_be_a_pms(vendor)
    chosen = [s for s in (DEFAULT_SOURCES if sources is None else sources) if s and s != vendor]
    # LawPay collects the month's invoices (the month end runs on Clio, whose bills billsync can follow).
    seeds = demo_seeds(firm, pms=vendor, sources=chosen)
    clocks = demo_clocks(seeds, pms=vendor)  # the sources stand at the month's end
    sandboxes = {
        name: load(SANDBOXES, name)(seed, rate_limit_per_minute=DEMO_RATE_LIMIT, clock=clocks.get(name))
        for name, seed in seeds.items()
    }
    port, stop = run_in_thread(build_server_app(sandboxes))
    say(
        ("Sandbox Law LLP", "bold"),
        f" on a local {vendor} at http://127.0.0.1:{port}: {len(firm.timekeepers)} users, "
        f"{len(firm.clients)} clients, {len(firm.matters)} matters, a month of activity ({MONTH_NAME})"
        + (f"; activity sources: {', '.join(chosen)}" if chosen else ""),
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            base = f"http://127.0.0.1:{port}"
            config = folder / "billsync.toml"
            collects = vendor == "clio" and "lawpay" in sandboxes
            extra = DEMO_RULES + (MONTH_END_SETTINGS.format(lawpay=f"{base}/lawpay") if collects else "")
            vendors = [vendor, *chosen, *(["lawpay"] if collects else [])]
            runtime = connect_to_sandbox(config, base, vendors, extra=extra, sources=chosen)
            store = runtime.store
            tune_garbage_collector()
            report = runtime.runner.run_once()
            print_sync_report(report)
            entries = store.entries("demo")
            reference = store.load_reference("demo")
            print_findings(entries)
            suggested = sum(1 for e in entries if e.suggested_matter)
            say(f"{suggested} entries carry a suggested matter (the client's most recent): each waits for review")
            print_entries(
                entries[:10], reference, title="First entries, as written to the PMS (non-billable until approved)"
            )
            blocked = [e for e in entries if e.state is EntryState.BLOCKED]
            title = f"{len(blocked)} blocked entries, held in billsync and never written (first 8)"
            print_entries(blocked[:8], reference, title=title, reasons=True)
            _print_states(entries)
            again = runtime.runner.run_once()
            say(
                f"Second cycle: {sum(again.capture.states.values())} new entries, {again.written} writes "
                f"(nothing new happened at the firm)."
            )
            if collects:
                month_end(runtime, load_settings(config), base, keep)
            if keep:
                say(f"config and database kept in {folder}")
            store.close()
    finally:
        stop()


def _print_states(entries: list[TimeEntry]) -> None:
    table = Table(title="Entries by state")
    table.add_column("state")
    table.add_column("entries", justify="right")
    for state, count in Counter(e.state.value for e in entries).most_common():
        table.add_row(*text_cells(state, count))
    console.print(table)


def refuse_what_cannot_be_a_pms(vendor: str) -> None:
    """One line before any sandbox starts when `vendor` is no PMS billsync can demo (no writer, or no sandbox)."""
    with_sandboxes = set(names(SANDBOXES))
    able = [name for name in connectors_offering(ConnectorRole.PMS) if name in with_sandboxes]
    if vendor not in able:
        raise ConfigError(f"--pms {vendor}: not a PMS connector with a sandbox (choose one of: {', '.join(able)})")
