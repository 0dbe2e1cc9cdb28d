"""The contract every connector passes (README "Adding a vendor"; core/connector.py says what each part promises).

One suite, parametrized over connectors. To add one, append a ContractCase to CASES in
tests/contract/harnesses.py with a harness factory built on that connector's sandbox; the Harness
protocol there says what it needs. Optional capabilities have their own suite (test_capabilities.py).
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from core.connector import Cursor, FindsManyEntries, Page, StreamRole
from core.errors import AuthFailed, Indeterminate, InvalidSignature
from core.models import (
    Activity,
    ActivityCategory,
    Client,
    ClientRateTable,
    Matter,
    RemoteBill,
    RemotePayment,
    Timekeeper,
)
from tests.contract.harnesses import CASES, GATEWAYS, ContractCase, GatewayCase, Harness

ROOT = Path(__file__).resolve().parents[2]
RECORD_TYPES = (Activity, Timekeeper, Client, ClientRateTable, Matter, ActivityCategory, RemoteBill, RemotePayment)
SECRET_HINTS = ("secret", "password", "token", "api_key", "private_key")
# What each role's records are (core.connector.StreamRole): core stores or captures them by role.
RECORDS_OF_ROLE: dict[StreamRole, tuple[type[Any], ...]] = {
    StreamRole.REFERENCE: (Timekeeper, Client, ClientRateTable, Matter, ActivityCategory),
    StreamRole.ACTIVITY: (Activity,),
    StreamRole.BILLS: (RemoteBill,),
    StreamRole.PAYMENTS: (RemotePayment,),
}


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> ContractCase:
    return typing.cast(ContractCase, request.param)


@pytest.fixture
def harness(case: ContractCase) -> Harness:
    return case.harness()


def test_name_equals_the_folder_name(case: ContractCase) -> None:
    cls = case.connector_class
    folder = Path(inspect.getfile(cls)).resolve().parent
    assert folder.parent == ROOT / "connectors"
    assert cls.name == folder.name
    assert isinstance(cls.Settings, type) and issubclass(cls.Settings, BaseModel)


def test_every_secret_setting_is_a_secretstr(case: ContractCase) -> None:
    settings = case.connector_class.Settings
    secrets = [name for name in settings.model_fields if any(hint in name for hint in SECRET_HINTS)]
    assert secrets, "a connector with credentials declares them in Settings"
    for name in secrets:
        annotation = settings.model_fields[name].annotation
        assert annotation is SecretStr or SecretStr in typing.get_args(annotation), name


def test_check_fails_cleanly_on_401(harness: Harness) -> None:
    harness.connector.check()  # works before
    harness.reject_credentials()
    with pytest.raises(AuthFailed) as raised:
        harness.connector.check()
    message = str(raised.value)
    assert message and "Traceback" not in message and "Bearer" not in message


def read_stream(stream: Any, since: Cursor) -> list[Page]:
    return list(stream.read(since))


def cursor_times(cursor: Cursor) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for key, value in (cursor or {}).items():
        if isinstance(value, str):
            try:
                found[key] = datetime.fromisoformat(value)
            except ValueError:
                continue
    return found


def assert_not_backwards(before: Cursor, after: Cursor, where: str) -> None:
    if before is None:
        return
    assert after is not None, f"{where}: the cursor went back to the beginning"
    old, new = cursor_times(before), cursor_times(after)
    for key, moment in old.items():
        assert key in new and new[key] >= moment, f"{where}: cursor {key} moved backwards"


def identity(record: Any) -> tuple[str, str]:
    return type(record).__name__, str(getattr(record, "external_id", None) or record.id)


def test_streams_yield_valid_models_and_cursors_never_move_backwards(harness: Harness) -> None:
    streams = harness.connector.streams()
    assert streams and len({s.name for s in streams}) == len(streams)
    for stream in streams:
        cursor: Cursor = None
        for page in read_stream(stream, None):
            for record in page.records:
                assert isinstance(record, RECORD_TYPES), stream.name
                assert type(record).model_validate(record.model_dump()) == record, stream.name
            assert all(isinstance(e, str) for e in page.errors)
            assert_not_backwards(cursor, page.cursor, stream.name)
            cursor = page.cursor


def test_each_stream_declares_its_role_and_yields_the_records_of_that_role(harness: Harness) -> None:
    """Core chooses streams by role (never by name): a stream's records must be what its role says.

    A PMS gives core its reference data; an activity source gives activity only."""
    streams = harness.connector.streams()
    roles = {s.name: s.role for s in streams}
    assert all(isinstance(role, StreamRole) for role in roles.values()), roles
    if harness.connector.writer() is not None:
        assert StreamRole.REFERENCE in roles.values() and StreamRole.ACTIVITY in roles.values(), roles
    else:
        assert set(roles.values()) == {StreamRole.ACTIVITY}, roles
    for stream in streams:
        for page in read_stream(stream, None):
            for record in page.records:
                assert isinstance(record, RECORDS_OF_ROLE[stream.role]), (stream.name, type(record).__name__)


def test_rereading_from_the_last_cursor_yields_nothing_new(harness: Harness) -> None:
    for stream in harness.connector.streams():
        first = read_stream(stream, None)
        seen = {identity(r): r for page in first for r in page.records}
        last = first[-1].cursor if first else None
        again = read_stream(stream, last)
        for page in again:
            for record in page.records:
                # The overlap window may repeat records; it must never bring anything new.
                assert identity(record) in seen and seen[identity(record)] == record, (stream.name, identity(record))
                if isinstance(record, Matter) and last and "updated_since" in cursor_times(last):
                    assert record.updated_at <= cursor_times(last)["updated_since"]
            assert_not_backwards(last, page.cursor, stream.name)


def test_a_bad_webhook_signature_is_rejected(harness: Harness) -> None:
    handler = harness.connector.webhooks()
    if handler is None:
        pytest.skip("this connector has no webhooks")
    request, subscription = harness.signed_delivery()
    assert handler.handle(request, subscription).delivery_id  # the genuine one verifies
    forge = getattr(harness, "forged_deliveries", None)  # a vendor that proves deliveries otherwise says how
    if forge is not None:
        forged = forge(request)
    else:
        tampered_body = replace(request, body=request.body.replace(b"}", b" }", 1))
        wrong_signature = replace(
            request, headers={k: ("0" * 64 if "signature" in k else v) for k, v in request.headers.items()}
        )
        unsigned = replace(request, headers={k: v for k, v in request.headers.items() if "signature" not in k})
        forged = [tampered_body, wrong_signature, unsigned]
    assert forged
    for bad in forged:
        with pytest.raises(InvalidSignature):
            handler.handle(bad, subscription)
    with pytest.raises(InvalidSignature):
        handler.handle(request, None)  # nothing to verify against: refused, never trusted


def test_a_webhook_asks_to_re_poll_streams_the_connector_has(harness: Harness) -> None:
    """Core re-polls the streams a delivery names by their names: a name that is no stream's
    re-polls nothing, and the change would wait for the next scheduled poll."""
    handler = harness.connector.webhooks()
    if handler is None:
        pytest.skip("this connector has no webhooks")
    request, subscription = harness.signed_delivery()
    named = set(handler.handle(request, subscription).streams)
    assert named and named <= {s.name for s in harness.connector.streams()}


@pytest.mark.parametrize("applied", [True, False], ids=["answer-lost-after-write", "connection-lost-before-write"])
def test_the_same_idempotency_key_never_creates_twice(harness: Harness, applied: bool) -> None:
    writer = harness.connector.writer()
    if writer is None:
        pytest.skip("this connector is not a PMS")
    entry, key = harness.sample_entry(), "contract|firm|source|activity-1|create"
    harness.lose_write_answers(applied=applied)
    with pytest.raises(Indeterminate):
        writer.write_time_entry(entry, key, billable=False)
    harness.restore()

    def recover() -> str:
        # Core's rule for an unknown outcome: look before sending again.
        found = writer.find_time_entry(key, entry)
        return found if found is not None else writer.write_time_entry(entry, key, billable=False)

    first = recover()
    assert recover() == first  # a second recovery (say, after a crash) finds the same entry
    assert harness.remote_entries_with_key(key) == 1


def test_finding_many_entries_answers_as_finding_each(harness: Harness) -> None:
    """The optional FindsManyEntries capability: what a grouped lookup finds is what a lookup of
    each entry finds, and an entry never written is left out (so core writes it). The call is as
    core makes it: one matter's entries, on days apart."""
    writer = harness.connector.writer()
    if writer is None:
        pytest.skip("this connector is not a PMS")
    if not isinstance(writer, FindsManyEntries):
        pytest.skip("this connector's writer looks entries up one at a time")
    sample = harness.sample_entry()
    entries = [
        sample.model_copy(
            update={
                "id": f"many-{n}",
                "narrative": f"{sample.narrative} ({n})",
                "work_date": sample.work_date + timedelta(days=2 * n),
            }
        )
        for n in range(3)
    ]
    keys = [f"contract|firm|source|many-{n}|create" for n in range(3)]
    remote_ids = {
        key: writer.write_time_entry(entry, key, billable=False) for key, entry in zip(keys[:2], entries, strict=False)
    }
    assert len({entry.matter_id for entry in entries}) == 1
    found = writer.find_time_entries(list(zip(keys, entries, strict=True)))
    assert dict(found) == remote_ids  # the third was never written
    assert {key: writer.find_time_entry(key, entry) for key, entry in zip(keys, entries, strict=True)} == {
        **remote_ids,
        keys[2]: None,
    }


def _iter_cases() -> Iterator[ContractCase]:
    for param in CASES:
        yield typing.cast(ContractCase, param.values[0])


def test_every_connector_folder_with_a_connector_module_is_in_the_suite() -> None:
    """Each connector is in this suite, or (a payment gateway: no streams, no writer, no signed
    webhooks for this suite to pull on) in the payment gateway contract suite."""
    listed = {case.connector_class.name for case in _iter_cases()}
    gateways = {typing.cast(GatewayCase, param.values[0]).connector_class.name for param in GATEWAYS}
    present = {p.parent.name for p in (ROOT / "connectors").glob("*/connector.py")}
    assert present <= listed | gateways, f"add a ContractCase for {sorted(present - listed - gateways)}"


# -- backfill: every activity stream reads the past from {"updated_since": ...} (core.connector.Cursor) --


def activity_streams(harness: Harness) -> list[Any]:
    return [s for s in harness.connector.streams() if s.role is StreamRole.ACTIVITY]


BEFORE_THE_SEED = timedelta(days=400)  # the seeds' oldest changes are months before their activity


def backfill_from(moment: datetime) -> Cursor:
    return {"updated_since": moment.isoformat()}


def before_everything(harness: Harness, first_read: list[Page]) -> datetime:
    """A moment before all the sandbox holds: a record may have been created or changed long before
    the work it records (an event is booked ahead), so well before the earliest activity."""
    started = [record.started_at for page in first_read for record in page.records]
    return min([*started, harness.now()]) - BEFORE_THE_SEED


def ids_read(pages: list[Page]) -> set[tuple[str, str]]:
    return {identity(record) for page in pages for record in page.records}


def test_a_backfill_from_before_all_activity_reads_what_a_first_read_does(harness: Harness) -> None:
    """`billsync backfill` reads the past from {"updated_since": date}: from a moment before
    everything the sandbox holds it must bring exactly what a first read (None) brings. (An activity
    source's first read reaches back a set time only; the sandboxes' activity lies within it.)"""
    streams = activity_streams(harness)
    assert streams
    for stream in streams:
        first = read_stream(stream, None)
        assert ids_read(first), f"{stream.name}: the sandbox seeds no activity, so nothing is checked"
        backfill = read_stream(stream, backfill_from(before_everything(harness, first)))
        assert ids_read(backfill) == ids_read(first), stream.name


def test_a_backfill_from_after_all_activity_reads_nothing(harness: Harness) -> None:
    """A stream that ignored the date would read everything again: from after what the sandbox
    holds (a day past its clock), a backfill brings nothing."""
    for stream in activity_streams(harness):
        after = harness.now() + timedelta(days=1)
        assert ids_read(read_stream(stream, backfill_from(after))) == set(), stream.name


def test_a_backfill_moves_on_to_cursors_core_can_store_and_resume_from(harness: Harness) -> None:
    """Core stores each page's cursor verbatim as JSON; reading again from a backfill's last cursor
    brings nothing the backfill did not."""
    for stream in activity_streams(harness):
        first = read_stream(stream, None)
        backfill = read_stream(stream, backfill_from(before_everything(harness, first)))
        assert backfill, stream.name
        for page in backfill:
            assert isinstance(page.cursor, Mapping), (stream.name, page.cursor)
            assert json.loads(json.dumps(page.cursor)) == page.cursor, stream.name
        again = read_stream(stream, backfill[-1].cursor)
        assert ids_read(again) <= ids_read(backfill), stream.name
