"""`billsync report`: capture, utilization, realization, collection, time to invoice and lockup."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from core.cli.common import ConfigOption, FirmOption, app, console, pick_firm, say, settings_from
from core.errors import BillsyncError
from core.private_files import write_private
from core.reports.build import build_report
from core.reports.dashboard import render_dashboard
from core.reports.render import print_report, report_csv, report_json
from core.store.store import Store


class By(enum.StrEnum):
    """How rows are grouped."""

    TIMEKEEPER = "timekeeper"
    CLIENT = "client"
    MATTER = "matter"


class Format(enum.StrEnum):
    """What the command prints."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@app.command()
def report(
    config: ConfigOption = None,
    firm: FirmOption = None,
    period: Annotated[str, typer.Option(help="2026-10, 2026-Q4, 2026, 2026-10-01..2026-10-15, or all.")] = "all",
    by: Annotated[By, typer.Option(help="Group rows by timekeeper, client or matter.")] = By.TIMEKEEPER,
    output: Annotated[Format, typer.Option("--format", help="table, csv or json (on standard output).")] = Format.TABLE,
    html: Annotated[Path | None, typer.Option(help="Also write the HTML dashboard to this file.")] = None,
) -> None:
    """Metrics per firm and per timekeeper, client or matter for a period; optionally the HTML dashboard."""
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    try:
        facts, result = build_report(
            store, firm_id, firm_settings, period=period, by=by.value, today=datetime.now(UTC).date()
        )
    finally:
        store.close()
    if html is not None:
        try:
            # Owner-only (0600): the dashboard holds client names and money.
            write_private(html, render_dashboard(facts, result, served=False))
        except OSError as exc:
            raise BillsyncError(f"cannot write {html}: {exc.strerror}") from None
    if output is Format.JSON:
        typer.echo(report_json(result), nl=False)
    elif output is Format.CSV:
        typer.echo(report_csv(result), nl=False)
    else:
        print_report(result, console)
        if html is not None:
            say(f"dashboard written to {html}")
