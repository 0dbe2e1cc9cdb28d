"""Privilege: message bodies never reach an entry, a log line or a database column.

A canary string is planted in every activity body; after a capture run it must appear
nowhere except the raw-activity payload, and there only when the firm asked for it.
"""

from __future__ import annotations

import io
import json

import structlog
from billsync_sandboxes.demo.data import generate_firm

from core.logging import configure_logging
from tests.capture import capture_engine

CANARY = "CANARY-7f3a-privileged-settlement-position"


def run_capture(store, firm_id, store_raw_payload: bool) -> tuple[str, int]:
    firm = generate_firm(activities=300, body=f"Client said: {CANARY}")
    assert sum(1 for a in firm.activities if a.body and CANARY in a.body) > 100
    store.save_reference(firm_id, [*firm.timekeepers, *firm.clients, *firm.matters, *firm.categories])
    out = io.StringIO()
    configure_logging(level="debug", stream=out, json=True)
    log = structlog.get_logger().bind(firm=firm_id)
    engine = capture_engine(store, firm_id, store_raw_payload=store_raw_payload)
    result = engine.capture(firm.activities)
    # Log what a job summary would log, including a careless developer's extra fields.
    log.info("capture done", seen=result.seen, body=firm.activities[0].body, activity=firm.activities[0].model_dump())
    return out.getvalue(), sum(result.states.values())


def cells_with_canary(store) -> list[tuple[str, str]]:
    found = []
    for table, rows in store.iter_tables():
        for row in rows:
            for column, value in row.items():
                if CANARY in json.dumps(value, default=str):
                    found.append((table, column))
    return found


def test_bodies_reach_no_entry_log_or_column(store, firm_id) -> None:
    logs, created = run_capture(store, firm_id, store_raw_payload=False)
    assert created > 100
    assert CANARY not in logs
    assert all(CANARY not in e.narrative for e in store.entries(firm_id))
    assert cells_with_canary(store) == []


def test_with_raw_payload_configured_the_body_is_only_in_the_payload_column(store, firm_id) -> None:
    logs, _ = run_capture(store, firm_id, store_raw_payload=True)
    assert CANARY not in logs
    found = cells_with_canary(store)
    assert found and {cell for cell in found} == {("activities", "payload")}


def test_activity_repr_and_dump_leave_the_body_out() -> None:
    activity = generate_firm(activities=20, body=CANARY).activities
    with_body = next(a for a in activity if a.body)
    assert CANARY not in repr(with_body)
    assert CANARY not in with_body.model_dump_json()


def test_matter_numbers_are_taken_out_of_narratives_but_nothing_else() -> None:
    from core.narrative import narrative_for
    from tests.factories import activity

    def said(title: str, kind: str = "call") -> str:
        return narrative_for(activity(title=title, kind=kind), "HARB-0001")

    assert said("RE: [HARB-0001] settlement terms") == "Telephone call with P. Jones re: settlement terms"
    assert said("Motion to compel (harb-0001):", kind="document") == "Drafted: Motion to compel"
    assert said("HARB-00012 is another matter") == "Telephone call with P. Jones re: HARB-00012 is another matter"
