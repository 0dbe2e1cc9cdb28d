"""A stateful property test: any interleaving of what happens to a firm keeps "one activity, one entry".

Hypothesis drives a real SyncRunner (SQLite store, the real Clio connector and webhook handler)
against the in-process Clio sandbox (tests/connectors/clio/harness.py) through random
sequences of: a person logging calls in Clio, signed webhook deliveries (and redeliveries),
polls, outbox drains, drains whose POST answers are lost (after Clio stored the entry, or before), crashes
(the runner abandoned mid-drain or between a page and its cursor, a fresh runner on the same
store once the dead one's claims ran out), edits and deletions made in Clio, reconciles and
backfills (every cursor reset), and an attorney who logs calls before being given a Clio account.
After every step:

- at most one entry in Clio per activity, and no billsync marker twice;
- an entry deleted in Clio is never recreated.

At the end the faults stop, the late attorney has an account if the test had not given one yet,
and cycles run until the outbox is empty; then every activity the test logged (the late
attorney's earlier calls included) has exactly one local entry, and every live entry exactly one
entry in Clio.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from config.settings import FirmSettings
from connectors.clio.mapping import marker_hash
from core.capture import engine_for
from core.connector import InboundRequest
from core.models import EntryState
from core.policy import CapturePolicy
from core.store.schema import outbox
from core.store.store import Store
from core.store.sync_state import FAILED, PENDING, SENDING, SyncState
from core.sync import SyncReport, SyncRunner
from core.tokens import TokenStore
from tests.connectors.clio.harness import FIRM, ClioEnv, make_env
from tests.reliability.conftest import FULL, report_figures, scale

pytestmark = pytest.mark.reliability

CALLBACK = "https://billsync.example.test/hooks/clio/firm"
FIRST_CALL_ID = 800_000
# Logs calls from the start, has a Clio account only once `admin_adds_the_late_user` runs: until then
# those calls wait as "not a timekeeper", and every one of them must be captured, once, after it.
LATE_USER = 347
# Longer than any claim lease: a crashed runner's rows are free again after this.
RESTART_AFTER = timedelta(hours=1)
FIGURES: Counter[str] = Counter()


class Crash(BaseException):
    """The process dies here: nothing in billsync catches it, as nothing survives a kill -9."""


class CrashingWriter:
    """The connector's writer; the first write reaches Clio, then the process dies."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def write_time_entry(self, *args: Any, **kwargs: Any) -> Any:
        self._inner.write_time_entry(*args, **kwargs)
        raise Crash("after the POST was applied, before its answer was stored")


class OneFirm(RuleBasedStateMachine):
    """One firm on the Clio sandbox, and everything that can happen to it."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.env: ClioEnv = make_env(deliver=self._deliver)
        self.tmp = Path(tempfile.mkdtemp(prefix="billsync-stateful-"))
        self.store = Store.open(f"sqlite:///{self.tmp / 'state.db'}")
        self.firm = FirmSettings(name="Stateful LLP", capture=CapturePolicy(enabled=True))
        # The webhook subscription (and its secret, encrypted) lives in the firm's store.
        self.subscriptions = TokenStore(self.store.engine, Fernet(Fernet.generate_key()), clock=self.env.clock.now)
        self.runner = self._new_runner()
        assert self.runner.ensure_webhooks(CALLBACK) is not None
        self.deliveries.clear()
        self.calls: list[int] = []  # communications a person logged
        self.deleted_keys: set[tuple[str, str]] = set()  # activities whose entry was deleted in Clio
        self.seen: list[tuple[dict[str, str], bytes]] = []  # deliveries already handed over once
        self.late_user_added = False
        FIGURES["cases"] += 1

    # Wiring -------------------------------------------------------------------------------------

    def _deliver(self, url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str]]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if "x-hook-secret" in lowered:  # the activation handshake: echo, as the daemon does
            return 200, {"X-Hook-Secret": lowered["x-hook-secret"]}
        self.deliveries.append((lowered, body))
        return 200, {}

    def _new_runner(self) -> SyncRunner:
        return SyncRunner(
            firm=FIRM,
            pms=self.env.connector,
            store=self.store,
            make_engine=lambda: engine_for(FIRM, self.firm, self.store),
            clock=self.env.clock.now,
            retry_delay=timedelta(0),
            tokens=self.subscriptions,
        )

    def _step(self, name: str) -> SyncReport:
        FIGURES[name] += 1
        FIGURES["steps"] += 1
        return SyncReport()

    def _restart(self) -> None:
        """A new process on the same store, started after the dead one's claims ran out."""
        self.env.clock.advance(RESTART_AFTER.total_seconds())
        self.runner = self._new_runner()

    def _remote(self) -> list[dict[str, Any]]:
        return [
            a
            for a in self.env.sandbox.records("activities")
            if a.get("type") == "TimeEntry" and "[bs:" in (a.get("note") or "")
        ]

    def _activity_of_marker(self) -> dict[str, tuple[str, str]]:
        """Marker hash -> activity key, from the store's outbox and entries."""
        activity_of_entry = {e.id: e.activity_key for e in self.store.entries(FIRM)}
        with self.store.engine.connect() as conn:
            creates = conn.execute(
                select(outbox.c.entry_id, outbox.c.idempotency_key).where(outbox.c.operation == "create")
            ).all()
        return {
            marker_hash(key): activity_of_entry[entry_id] for entry_id, key in creates if entry_id in activity_of_entry
        }

    def _remote_by_activity(self) -> Counter[tuple[str, str]]:
        of_marker = self._activity_of_marker()
        markers = [a["note"].rsplit("[bs:", 1)[1].split("]", 1)[0] for a in self._remote()]
        return Counter(of_marker.get(m, ("unknown", m)) for m in markers)

    # What a person does in Clio ----------------------------------------------------------------

    @rule(user=st.sampled_from([345, 346, LATE_USER]))
    def person_logs_a_call(self, user: int) -> None:
        self._step("new_activity")
        self.env.clock.advance(60)
        number = FIRST_CALL_ID + len(self.calls)
        # An hour apart, in March before the seed's own activity: no two calls overlap (overlapping
        # work of one timekeeper on one matter is rightly merged into one entry).
        day, hour = divmod(len(self.calls), 8)
        self.env.admin(
            "POST",
            "communications",
            {
                "id": number,
                "type": "PhoneCommunication",
                "subject": f"call {number}",
                "body": "privileged",
                "date": f"2026-03-{day + 1:02d}",
                "received_at": f"2026-03-{day + 1:02d}T{9 + hour:02d}:00:00+00:00",
                "user": {"id": user},
                "matter": {"id": 1001},
                "senders": [],
                "receivers": [],
            },
        )
        self.calls.append(number)
        FIGURES["late_user_calls"] += user == LATE_USER and not self.late_user_added

    @precondition(lambda self: not self.late_user_added)
    @rule()
    def admin_adds_the_late_user(self) -> None:
        self._step("user_added")
        self._add_late_user()

    def _add_late_user(self) -> None:
        self.env.clock.advance(60)
        self.env.admin(
            "POST",
            "users",
            {
                "id": LATE_USER,
                "name": "Lee Park",
                "first_name": "Lee",
                "last_name": "Park",
                "email": "lee.park@example.test",
                "enabled": True,
                "account_owner": False,
                "clio_connect": False,
                "rate": 275.0,
                "roles": [],
                "subscription_type": "Attorney",
                "time_zone": "Pacific Time (US & Canada)",
            },
        )
        self.late_user_added = True

    @precondition(lambda self: bool(self.calls))
    @rule(data=st.data(), seconds=st.integers(min_value=60, max_value=4 * 3600))
    def person_edits_an_entry(self, data: st.DataObject, seconds: int) -> None:
        remote = [a for a in self._remote() if not a.get("bill")]
        if not remote:
            return
        self._step("remote_edit")
        chosen = data.draw(st.sampled_from(remote))
        marker = chosen["note"][chosen["note"].rindex("[bs:") :]
        self.env.admin("PATCH", f"activities/{chosen['id']}", {"note": f"Edited in Clio {marker}", "quantity": seconds})

    @precondition(lambda self: bool(self.calls))
    @rule(data=st.data())
    def person_deletes_an_entry(self, data: st.DataObject) -> None:
        known = {e.remote_id for e in self.store.entries(FIRM) if e.remote_id}
        remote = [a for a in self._remote() if str(a["id"]) in known and not a.get("bill")]
        if not remote:
            return
        self._step("remote_delete")
        chosen = data.draw(st.sampled_from(remote))
        key = self._activity_of_marker().get(chosen["note"].rsplit("[bs:", 1)[1].split("]", 1)[0])
        self.env.admin("DELETE", f"activities/{chosen['id']}")
        if key is not None:
            self.deleted_keys.add(key)

    # What billsync does -------------------------------------------------------------------------

    @rule(redeliver=st.booleans(), whole_poll=st.booleans())
    def webhooks_arrive(self, redeliver: bool, whole_poll: bool) -> None:
        report = self._step("webhook")
        self.env.sandbox.flush_webhooks()
        fresh, self.deliveries = self.deliveries, []
        batch = fresh + (self.seen[-2:] if redeliver else [])
        self.seen.extend(fresh)
        for headers, body in batch:
            _, streams = self.runner.receive_webhook(InboundRequest(headers=headers, body=body))
            if streams:
                # `billsync run` answers a verified delivery by running the firm's poll job now; the
                # server on its own re-polls only the streams the delivery names.
                self.runner.poll(report, only_streams=None if whole_poll else streams)

    @rule()
    def poll(self) -> None:
        self.runner.poll(self._step("poll"))

    @rule()
    def drain(self) -> None:
        self.runner.drain_outbox(self.env.connector.writer(), self._step("drain"))

    @rule(applied=st.booleans())
    def drain_losing_answers(self, applied: bool) -> None:
        """Every POST's answer is lost: after Clio stored the entry (truncated) or before (reset)."""
        report = self._step("drain_lost_answers")
        self.env.faults(
            {"route": "/api/v4/activities*", "kind": "truncate" if applied else "reset", "methods": ["POST"],
             "probability": 1.0}
        )
        try:
            self.runner.drain_outbox(self.env.connector.writer(), report)
        finally:
            self.env.faults()

    @rule()
    def crash_after_a_write_reached_clio(self) -> None:
        self._step("crash_mid_drain")
        try:
            self.runner.drain_outbox(CrashingWriter(self.env.connector.writer()), SyncReport())
        except Crash:
            FIGURES["crashes"] += 1
        self._restart()

    @rule(nth=st.integers(min_value=1, max_value=6))
    def crash_between_a_page_and_its_cursor(self, nth: int) -> None:
        self._step("crash_mid_poll")
        state: SyncState = self.runner.state
        save_cursor = state.save_cursor
        calls = 0

        def dying(*args: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            if calls >= nth:
                raise Crash("page stored, cursor not")
            save_cursor(*args, **kwargs)

        state.save_cursor = dying  # type: ignore[method-assign]
        try:
            self.runner.poll(SyncReport())
        except Crash:
            FIGURES["crashes"] += 1
        self._restart()

    @rule()
    def reconcile(self) -> None:
        report = self._step("reconcile")
        self.runner.reconcile(self.env.connector.writer(), report)

    @rule()
    def backfill(self) -> None:
        report = self._step("backfill")
        for stream in self.env.connector.streams():
            self.runner.state.save_cursor(FIRM, "clio", stream.name, None)
        self.runner.poll(report)

    # Invariants ---------------------------------------------------------------------------------

    @invariant()
    def one_remote_entry_per_activity_at_most_and_no_tombstone_recreated(self) -> None:
        remote = self._remote()
        markers = Counter(a["note"].rsplit("[bs:", 1)[1].split("]", 1)[0] for a in remote)
        per_activity = self._remote_by_activity()
        FIGURES["duplicates"] += sum(n - 1 for n in markers.values() if n > 1)
        FIGURES["duplicates"] += sum(n - 1 for n in per_activity.values() if n > 1)
        assert not [m for m, n in markers.items() if n > 1], markers
        assert not [k for k, n in per_activity.items() if n > 1], per_activity
        FIGURES["invariant_checks"] += 1
        FIGURES["recreated_tombstones"] += sum(1 for k in self.deleted_keys if per_activity.get(k))
        assert not [k for k in self.deleted_keys if per_activity.get(k)], self.deleted_keys

    def teardown(self) -> None:
        try:
            self.env.faults()
            if not self.late_user_added:
                self._add_late_user()
            writer = self.env.connector.writer()
            for _ in range(10):
                self._restart()  # also frees what a crash left claimed
                self.runner.run_once()
                counts = self.runner.state.counts(FIRM)
                if not any(status in (PENDING, SENDING) for status in counts):
                    break
            self.runner.reconcile(writer, SyncReport())
            counts = self.runner.state.counts(FIRM)
            assert not any(status in (PENDING, SENDING, FAILED) for status in counts), counts
            entries = self.store.entries(FIRM)
            local = Counter(e.activity_key for e in entries)
            FIGURES["losses"] += sum(1 for n in self.calls if local[("clio", f"communication:{n}")] == 0)
            for number in self.calls:
                assert local[("clio", f"communication:{number}")] == 1, (number, local)
            per_activity = self._remote_by_activity()
            live = [e for e in entries if e.state not in (EntryState.DELETED_REMOTELY, EntryState.BLOCKED,
                                                          EntryState.REJECTED)]
            for entry in live:
                assert per_activity[entry.activity_key] == 1, (entry.activity_key, entry.state, per_activity)
            for key in self.deleted_keys:
                assert per_activity.get(key, 0) == 0
                assert next(e for e in entries if e.activity_key == key).state is EntryState.DELETED_REMOTELY
            FIGURES["settled_cases"] += 1
            FIGURES["activities_checked"] += len(self.calls)
            FIGURES["tombstones_checked"] += len(self.deleted_keys)
        finally:
            self.store.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


OneFirm.TestCase.settings = settings(
    max_examples=scale(8, 300),
    stateful_step_count=scale(20, 50),
    deadline=None,
    derandomize=True,
    # Shrinking a failing interleaving can take minutes: the short form reports it unshrunk.
    phases=list(Phase) if FULL else [Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class TestOneActivityOneEntry(OneFirm.TestCase):  # type: ignore[misc, valid-type]
    """The state machine, as a pytest test."""


def teardown_module() -> None:
    report_figures(
        "stateful",
        cases=FIGURES["cases"],
        settled_cases=FIGURES["settled_cases"],
        steps=FIGURES["steps"],
        invariant_checks=FIGURES["invariant_checks"],
        crashes=FIGURES["crashes"],
        lost_answer_drains=FIGURES["drain_lost_answers"],
        webhook_steps=FIGURES["webhook"],
        remote_edits=FIGURES["remote_edit"],
        remote_deletes=FIGURES["remote_delete"],
        backfills=FIGURES["backfill"],
        activities_checked=FIGURES["activities_checked"],
        late_user_calls_waiting_then_captured=FIGURES["late_user_calls"],
        users_added_mid_run=FIGURES["user_added"],
        tombstones_checked=FIGURES["tombstones_checked"],
        duplicates=FIGURES["duplicates"],
        recreated_tombstones=FIGURES["recreated_tombstones"],
        losses=FIGURES["losses"],
    )
