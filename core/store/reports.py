"""The SQL reports and the review pages need: every activity's capture outcome.

Reads only, returning small frozen rows. (Assigning a matter to an unassigned activity is a
capture decision: `core.assign`, through the capture engine and `Store.save_capture`.)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from core.models import ActivityKind, ActivityStatus
from core.store.schema import activities


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """What capture made of one activity: enough for the capture funnel and the unassigned queue."""

    id: str
    source: str
    external_id: str
    kind: ActivityKind
    actor: str
    started_at: datetime
    raw_seconds: int | None  # the source's own duration; None for instants (an e-mail, a text)
    title: str
    status: ActivityStatus
    reason: str
    timekeeper_id: str | None
    matter_id: str | None
    entry_id: str | None


class ReportStore:
    """Reads for reporting."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def activity_rows(self, firm: str, statuses: Collection[ActivityStatus] | None = None) -> list[ActivityRow]:
        """Every activity the firm captured, whatever became of it (or only `statuses`), oldest first."""
        a = activities.c
        query = (
            select(
                a.id, a.source, a.external_id, a.kind, a.actor, a.started_at, a.raw_seconds, a.title,
                a.status, a.reason, a.timekeeper_id, a.matter_id, a.entry_id,
            )
            .where(a.firm_id == firm)
            .order_by(a.started_at, a.id)
        )  # fmt: skip
        if statuses is not None:
            query = query.where(a.status.in_(sorted(s.value for s in statuses)))
        with self.engine.connect() as conn:
            return [_activity_row(row._mapping) for row in conn.execute(query)]


def _activity_row(r: Any) -> ActivityRow:
    return ActivityRow(
        id=r["id"],
        source=r["source"],
        external_id=r["external_id"],
        kind=ActivityKind(r["kind"]),
        actor=r["actor"],
        started_at=r["started_at"],
        raw_seconds=r["raw_seconds"],
        title=r["title"],
        status=ActivityStatus(r["status"]),
        reason=r["reason"],
        timekeeper_id=r["timekeeper_id"],
        matter_id=r["matter_id"],
        entry_id=r["entry_id"],
    )
