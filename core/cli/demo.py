"""`billsync demo`: a synthetic firm's month through the engine."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from config.settings import FirmSettings
from core.capture import engine_for
from core.cli.common import app, console, print_entries, print_findings, print_result
from core.demo_data import generate_firm
from core.models import EntryState
from core.policy import CapturePolicy
from core.process import tune_garbage_collector
from core.store.store import Store


@app.command()
def demo(
    database: Annotated[str | None, typer.Option(help="Database URL (default: a temporary SQLite file).")] = None,
    activities: Annotated[int, typer.Option(help="How many activities the synthetic month has.")] = 1500,
) -> None:
    """Run the capture engine on a synthetic firm's month and show what it would write."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'demo.db'}"
        firm = generate_firm(activities=activities)
        store = Store.open(url)
        store.save_reference("demo", [*firm.timekeepers, *firm.clients, *firm.matters, *firm.categories])
        settings = FirmSettings(name="Demo Law LLP", capture=CapturePolicy(enabled=True))
        console.print(
            f"[bold]Demo Law LLP[/bold]: {len(firm.timekeepers)} users, {len(firm.clients)} clients, "
            f"{len(firm.matters)} matters, {len(firm.activities)} activities in October 2026"
        )
        engine = engine_for("demo", settings, store)
        tune_garbage_collector()
        result = engine.capture(firm.activities)
        print_result(result)
        captured = store.entries("demo")
        ref = store.load_reference("demo")
        print_findings(captured)
        print_entries(captured[:12], ref, title="First entries (all wait for review: review mode 'all')")
        blocked = [e for e in captured if e.state is EntryState.BLOCKED]
        if blocked:
            print_entries(blocked[:5], ref, title=f"{len(blocked)} blocked entries", reasons=True)
        again = engine.capture(firm.activities)
        console.print(
            f"Second run over the same activities: {sum(again.states.values())} new entries, "
            f"{again.already_known} already known."
        )
        store.close()
