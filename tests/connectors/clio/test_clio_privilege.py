"""Privileged text (communication bodies, note details, descriptions, document contents) never leaves Clio.

A canary is planted in every privileged field of the sandbox seed. It must not appear in any
record the streams yield, any request billsync sends, any activity it writes, or any log line.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from core.models import Activity
from tests.connectors.clio.harness import CANARY, make_env, time_entry


def test_the_canary_never_reaches_titles_writes_or_logs(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = make_env()
    # A broken record carrying the canary too: its error message must not repeat it.
    env.sandbox.add(
        "communications",
        {
            "type": "PhoneCommunication",
            "subject": "Call",
            "body": CANARY,
            "user": {"id": 345},
            "received_at": "not a time",
        },
    )
    assert CANARY in str(env.sandbox.records("communications"))  # it is really there to leak
    with capture_logs() as events:
        records, errors = [], []
        for stream in env.connector.streams():
            for page in stream.read(None):
                records.extend(page.records)
                errors.extend(page.errors)
        activities = [r for r in records if isinstance(r, Activity)]
        assert {a.external_id.split(":")[0] for a in activities} == {
            "communication",
            "calendar_entry",
            "task",
            "document",
            "note",
        }
        writer = env.connector.writer()
        remote_ids: set[int] = set()
        for n, activity in enumerate(activities):
            assert activity.matter_id is not None
            entry = time_entry(
                id=f"entry-{n}",
                activity_key=(activity.source, activity.external_id),
                timekeeper_id=activity.actor,
                matter_id=activity.matter_id,
                work_date=activity.started_at.date(),
                kind=activity.kind,
                narrative=f"{activity.kind.value.title()}: {activity.title}",
                rate=Decimal("300.00"),
            )
            remote_id = writer.write_time_entry(entry, f"key-{n}", billable=False)
            remote_ids.add(int(remote_id))
            writer.update_time_entry(remote_id, entry, billable=True)
            writer.read_time_entries([remote_id])
        env.connector.webhooks().ensure("https://billsync.example.test/hooks/clio", None)

    for record in records:
        assert CANARY not in record.model_dump_json(), record
        assert CANARY not in repr(record)
    for activity in activities:
        assert CANARY not in activity.title and activity.body is None
    assert errors and all(CANARY not in e for e in errors)
    for request in env.adapter.sent:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        assert CANARY not in body and CANARY not in str(request.url)
    written = [a for a in env.activities() if a.get("type") == "TimeEntry" and a["id"] in remote_ids]
    assert len(written) == len(activities)
    assert all(CANARY not in a["note"] for a in written)
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err
    assert CANARY not in caplog.text
    assert events and CANARY not in repr(events)
