"""The report snapshot: a plain function the daemon's scheduler calls (nightly, say) for each firm.

It computes the month so far (and, in the first days of a month, the month before, which late
approvals and bills still change) and writes each as JSON and CSV into the firm's
`[firms.<id>.reports] snapshot_folder`, as `<firm>-<period>-by-<dimension>.json|csv`. A re-run
replaces the files of the same period (each write goes to a temporary file first, then is
renamed, so a reader never sees half a file). No folder configured: nothing is written.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

import structlog

from config.settings import FirmSettings
from core.billing.period import month, previous_month
from core.errors import ConfigError
from core.reports.build import build_report
from core.reports.compute import DIMENSIONS
from core.reports.render import report_csv, report_json
from core.store.store import Store

RECENT_DAYS = 7  # for this many days into a month, the month before is written again too


def run_report_snapshot(store: Store, firm_id: str, firm: FirmSettings, now: datetime) -> list[Path]:
    """Write the firm's current (and, early in a month, previous) month by every grouping; the paths written."""
    folder = firm.reports.snapshot_folder
    if folder is None:
        structlog.get_logger().info("report snapshot skipped", firm=firm_id, reason="no reports.snapshot_folder")
        return []
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"firm {firm_id}: cannot create reports.snapshot_folder {folder}: {exc.strerror}") from None
    today = now.date()
    periods = [month(f"{today.year:04d}-{today.month:02d}").label]
    if today.day <= RECENT_DAYS:
        periods.insert(0, previous_month(today).label)
    written: list[Path] = []
    for period in periods:
        for by in DIMENSIONS:
            _, report = build_report(store, firm_id, firm, period=period, by=by, today=today)
            stem = f"{firm_id}-{period}-by-{by}"
            written.append(_replace(folder / f"{stem}.json", report_json(report)))
            written.append(_replace(folder / f"{stem}.csv", report_csv(report)))
    structlog.get_logger().info("report snapshot", firm=firm_id, periods=periods, files=len(written))
    return written


def _replace(path: Path, text: str) -> Path:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    Path(temporary).replace(path)
    return path
