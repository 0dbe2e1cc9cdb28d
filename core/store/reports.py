"""The SQL reports and the review pages need: every activity's capture outcome, and one re-capture.

Reads return small frozen rows; the one write (`assign`) turns an unassigned activity into the
entry capture made of it once a person named its matter: the activity row, the entry and its
outbox write change in one transaction, and only while the activity is still unassigned, so two
reviewers clicking at once give one entry, never two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from core.models import Activity, ActivityKind, ActivityStatus, TimeEntry
from core.store.schema import activities, outbox, time_entries
from core.store.store import OutboxItem


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


class AlreadyAssigned(Exception):
    """The activity is no longer in the unassigned queue (someone else assigned it first)."""


class ReportStore:
    """Reads for reporting; the single re-capture write for the review pages."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def activity_rows(self, firm: str) -> list[ActivityRow]:
        """Every activity the firm captured, whatever became of it, oldest first."""
        a = activities.c
        query = (
            select(
                a.id, a.source, a.external_id, a.kind, a.actor, a.started_at, a.raw_seconds, a.title,
                a.status, a.reason, a.timekeeper_id, a.matter_id, a.entry_id,
            )
            .where(a.firm_id == firm)
            .order_by(a.started_at, a.id)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [_activity_row(row._mapping) for row in conn.execute(query)]

    def activity(self, firm: str, activity_id: str) -> tuple[Activity, ActivityStatus] | None:
        """An activity as capture first saw it (without its body), and its status; None if unknown.

        Built from the stored payload when the firm keeps payloads, else from the columns the
        activities table always keeps (counterpart and contact addresses are then unknown).
        """
        a = activities.c
        with self.engine.connect() as conn:
            row = conn.execute(select(activities).where(a.firm_id == firm, a.id == activity_id)).first()
        if row is None:
            return None
        r = row._mapping
        if r["payload"]:
            data = dict(r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"]))
            data.pop("body", None)  # privileged: never carried into a re-capture
            return Activity.model_validate(data), ActivityStatus(r["status"])
        activity = Activity(
            source=r["source"],
            external_id=r["external_id"],
            kind=ActivityKind(r["kind"]),
            actor=r["actor"],
            started_at=r["started_at"],
            ended_at=r["ended_at"],
            duration_seconds=r["raw_seconds"],
            title=r["title"],
        )
        return activity, ActivityStatus(r["status"])

    def assign(
        self,
        firm: str,
        activity_id: str,
        *,
        status: ActivityStatus,
        reason: str,
        timekeeper_id: str | None,
        matter_id: str | None,
        entry_id: str | None,
        entry: TimeEntry | None,
        outbox_items: Sequence[OutboxItem],
    ) -> None:
        """Record the re-capture of an unassigned activity: its new outcome, its entry (if new), its outbox write."""
        now = datetime.now(UTC)
        a = activities.c
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(activities)
                .where(a.firm_id == firm, a.id == activity_id, a.status == ActivityStatus.UNASSIGNED.value)
                .values(
                    status=status.value,
                    reason=reason,
                    timekeeper_id=timekeeper_id,
                    matter_id=matter_id,
                    entry_id=entry_id,  # its own entry, or the one it was merged into
                )
            )
            if moved.rowcount != 1:
                raise AlreadyAssigned(f"activity {activity_id} is not in the unassigned queue")
            if entry is not None:
                conn.execute(time_entries.insert().values(**_entry_values(firm, activity_id, entry, now)))
            for item in outbox_items:
                conn.execute(
                    outbox.insert().values(
                        firm_id=firm, id=item.id, entry_id=item.entry_id, operation=item.operation,
                        idempotency_key=item.idempotency_key, status="pending", attempts=0, next_attempt_at=None,
                        last_error=None, created_at=now, claimed_by=None, lease_until=None, fence=0,
                    )
                )  # fmt: skip


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


def _entry_values(firm: str, activity_id: str, e: TimeEntry, now: datetime) -> dict[str, Any]:
    return {
        "firm_id": firm, "id": e.id, "activity_id": activity_id, "timekeeper_id": e.timekeeper_id,
        "matter_id": e.matter_id, "client_id": e.client_id, "work_date": e.work_date, "started_at": e.started_at,
        "ended_at": e.ended_at, "raw_seconds": e.raw_seconds, "billed_seconds": e.billed_seconds, "rate": e.rate,
        "amount": e.amount, "billable": e.billable, "narrative": e.narrative, "kind": e.kind.value,
        "category_id": e.category_id, "task_code": e.task_code, "activity_code": e.activity_code,
        "suggested_matter": e.suggested_matter, "state": e.state.value,
        "findings": [{"rule": f.rule, "severity": f.severity.value, "message": f.message} for f in e.findings],
        "remote_id": None, "created_at": now, "updated_at": now,
    }  # fmt: skip
