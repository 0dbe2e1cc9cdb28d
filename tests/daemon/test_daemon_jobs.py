"""One job run, one summary line: context bound, counts reported, failures contained."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import requests
import structlog

from config.billing import BillingSettings
from core.billing.lifecycle import follow_new_bills
from core.connector import StreamRole
from core.daemon import jobs
from core.errors import AuthFailed
from core.http import HttpClient
from core.logging import configure_logging
from core.models import BillState, RemoteBill
from core.progress import RateLimit
from tests.connectors.lawpay.harness import FIRM as LAWPAY_FIRM
from tests.connectors.lawpay.harness import bill
from tests.connectors.lawpay.harness import make_env as lawpay_env
from tests.connectors.microsoft365.harness import CALLBACK as MICROSOFT365_CALLBACK
from tests.connectors.microsoft365.harness import make_env as microsoft365_env
from tests.daemon.daemon_fakes import FakeRunner, Logs, make_daemon, runtime
from tests.factories import client, matter, timekeeper

TOKEN = "CANARY-tok-51c2"


def test_a_run_logs_one_summary_line_with_its_counts(logs: Logs) -> None:
    assert jobs.run_job(runtime("acme", FakeRunner()), "poll", jobs.poll) is jobs.Outcome.OK

    [line] = logs.jobs()
    assert line["firm"] == "acme" and line["connector"] == "fakevendor" and line["job"] == "poll"
    assert line["outcome"] == "ok" and line["level"] == "info"
    assert isinstance(line["duration_ms"], int) and len(line["run_id"]) == 8
    assert (line["read"], line["record_errors"], line["entries"]) == (2, 0, 0)


def test_lines_logged_during_the_run_carry_the_bound_context(logs: Logs) -> None:
    jobs.run_job(runtime("acme", FakeRunner()), "drain", jobs.drain)

    inside = next(line for line in logs.lines() if line["event"] == "inside")
    [summary] = logs.jobs()
    keys = ("firm", "connector", "job", "run_id")
    assert {k: inside[k] for k in keys} == {k: summary[k] for k in keys}
    assert structlog.contextvars.get_contextvars() == {}  # unbound after the run


def test_each_run_gets_its_own_run_id(logs: Logs) -> None:
    rt = runtime("acme", FakeRunner())
    for _ in range(3):
        jobs.run_job(rt, "poll", jobs.poll)
    assert len({line["run_id"] for line in logs.jobs()}) == 3


def test_a_failing_job_logs_the_message_only_and_returns_false(logs: Logs) -> None:
    runner = FakeRunner()
    runner.fail["poll"] = AuthFailed(f"refresh refused for https://x.test/oauth?access_token={TOKEN}")

    assert jobs.run_job(runtime("acme", runner), "poll", jobs.poll) is jobs.Outcome.ERROR

    [line] = logs.jobs()
    assert line["outcome"] == "error" and line["level"] == "error"
    assert line["error_type"] == "AuthFailed" and line["needs_reconnect"] is True
    assert "refresh refused" in line["error"]
    assert "exception" not in line  # no traceback
    assert TOKEN not in logs.out.getvalue()
    assert structlog.contextvars.get_contextvars() == {}


def test_reconcile_reports_drift_and_sends_what_it_requeued(logs: Logs) -> None:
    runner = FakeRunner()
    jobs.run_job(runtime("acme", runner), "reconcile", jobs.reconcile)

    assert runner.calls == {"reconcile": 1, "drain": 1}
    [line] = logs.jobs()
    assert (line["remote_edits"], line["tombstones"], line["written"], line["failures"]) == (3, 1, 1, 0)


def test_renewal_uses_the_firms_callback_url(logs: Logs) -> None:
    runner = FakeRunner()
    daemon = make_daemon({"acme": runner}, public_url="https://billsync.example.com/")
    callback = daemon.callback_url("acme")
    assert callback == "https://billsync.example.com/hooks/fakevendor/acme"

    jobs.run_job(
        daemon.runtimes["acme"], "renew_webhooks", jobs.renew_webhooks(lambda name: daemon.callback_url("acme", name))
    )

    assert runner.callbacks == [callback]
    assert logs.jobs()[0]["subscribed"] == 1
    assert "whsec_" not in logs.out.getvalue()


def test_per_record_detail_is_counted_in_the_summary_and_not_said_at_info() -> None:
    from core.logging import per_record

    out = Logs()
    configure_logging(level="info", stream=out.out, json=True)
    try:

        def drain_with_left_out_codes(_runtime) -> dict[str, int]:
            log = structlog.get_logger()
            for n in range(206):
                per_record(log, "clio utbms codes left out", reason="the entry has no activity category", entry=f"e{n}")
            return {"written": 206}

        assert jobs.run_job(runtime("acme", FakeRunner()), "drain", drain_with_left_out_codes) is jobs.Outcome.OK
        lines = out.lines()
        assert [line["event"] for line in lines] == ["job"]  # 206 entries, one line
        assert lines[0]["details"] == {"clio utbms codes left out (the entry has no activity category)": 206}
        assert lines[0]["level"] == "info"  # information: the e-billing rules flag entries that need codes

        def drain_with_a_bad_code(_runtime) -> dict[str, int]:
            log = structlog.get_logger()
            per_record(log, "clio utbms code left out", reason="task code is not a UTBMS code", warning=True, entry="e")
            per_record(log, "clio utbms codes left out", reason="the entry has no activity category", entry="f")
            return {"written": 2}

        jobs.run_job(runtime("acme", FakeRunner()), "drain", drain_with_a_bad_code)
        [_, second] = out.jobs()
        assert second["level"] == "warning"  # a code a person typed that Clio cannot take: worth a look
        assert second["details"] == {
            "clio utbms code left out (task code is not a UTBMS code)": 1,
            "clio utbms codes left out (the entry has no activity category)": 1,
        }
    finally:
        structlog.reset_defaults()


def test_a_run_stopped_by_the_shutdown_ends_cut_short_not_as_an_error(logs: Logs) -> None:
    from core.errors import ShuttingDown

    runner = FakeRunner()
    runner.fail["drain"] = ShuttingDown("POST https://app.clio.com/api/v4/activities: not sent, billsync is stopping")
    assert jobs.run_job(runtime("acme", runner), "drain", jobs.drain) is jobs.Outcome.CUT_SHORT
    [line] = logs.jobs()
    assert line["outcome"] == "cut_short" and line["level"] == "info"


def test_a_drain_logs_progress_only_when_the_vendors_limit_makes_it_long(logs: Logs) -> None:
    runner = FakeRunner()
    # 20 writes at 50 a minute: 24 s, not long. 180: 180 * 60 / 50 = 216 s, said as it starts.
    runner.drain_phases = [("writing to FakeVendor", 20), ("writing to FakeVendor", 180)]
    jobs.run_job(runtime("acme", runner), "drain", jobs.drain)

    lines = [line for line in logs.lines() if line["event"] == "progress"]
    assert [(line["total"], line["done"], line["eta_seconds"], line["final"]) for line in lines] == [
        (180, 0, 216.0, False),
        (180, 180, 0.0, True),
    ]
    [summary] = logs.jobs()
    assert all(line["run_id"] == summary["run_id"] and line["job"] == "drain" for line in lines)


class GraphRunner:
    """A runner whose one connector is Microsoft 365 on the Graph sandbox, as `renew_webhooks` meets it."""

    def __init__(self, connector) -> None:  # type: ignore[no-untyped-def]
        self.connectors = [connector]

    def ensure_webhooks(self, callback_url: str, connector: str | None = None):  # type: ignore[no-untyped-def]
        return self.connectors[0].webhooks().ensure(callback_url, None)


def test_a_renewal_that_fails_for_some_mailboxes_is_one_warning_counting_them(logs: Logs) -> None:
    # The app lacks every Mail role, so Graph refuses (403 ErrorAccessDenied) the sent-mail subscription
    # of both mailboxes; the calendars and call records still subscribe.
    without_mail = frozenset({"Calendars.Read", "CallRecords.Read.All", "User.Read.All"})
    env = microsoft365_env(roles=without_mail)
    rt = runtime("acme", GraphRunner(env.connector))  # type: ignore[arg-type]

    assert (
        jobs.run_job(rt, "renew_webhooks", jobs.renew_webhooks(lambda _name: MICROSOFT365_CALLBACK)) is jobs.Outcome.OK
    )

    said = [line for line in logs.lines() if line["level"] != "debug"]
    assert [line["event"] for line in said] == ["job"], said  # not a warning per mailbox
    (summary,) = said
    assert summary["level"] == "warning" and summary["subscribed"] == 1
    assert summary["details"] == {"graph subscription for a sent_mail resource not made": 2}
    per_mailbox = [line for line in logs.lines() if line["event"].startswith("graph subscription")]
    assert len(per_mailbox) == 2 and {line["level"] for line in per_mailbox} == {"debug"}


def test_graphs_error_code_in_a_failed_renewal_is_shown_not_redacted(logs: Logs) -> None:
    # The callback does not answer Graph's validation handshake: each of the five subscriptions
    # (two calendars, two sent-mail folders, the call records) fails with Graph's 400 ValidationError.
    env = microsoft365_env()
    env.sandbox.post = lambda url, headers, body: (404, {}, b"")
    rt = runtime("acme", GraphRunner(env.connector))  # type: ignore[arg-type]

    jobs.run_job(rt, "renew_webhooks", jobs.renew_webhooks(lambda _name: MICROSOFT365_CALLBACK))

    [summary] = logs.jobs()
    assert summary["level"] == "warning" and summary["subscribed"] == 0
    assert summary["details"] == {
        "graph subscription for a calendar_events resource not made": 2,
        "graph subscription for a sent_mail resource not made": 2,
        "graph subscription for a teams_calls resource not made": 1,
    }
    failed = [line for line in logs.lines() if line["event"].startswith("graph subscription")]
    assert len(failed) == 5 and all('"code":"ValidationError"' in line["problem"] for line in failed), failed


def test_a_payments_run_is_one_line_naming_the_gateway_with_the_cycles_figures(logs: Logs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = lawpay_env(tmp_path)
    try:
        env.store.save_reference(LAWPAY_FIRM, [bill("INV-26", "10.00")])
        paid = env.fp.gateway.payment_link(
            page_url=env.fp.settings.operating_page_url, amount=Decimal("10.00"), reference="INV-26"
        )
        env.pay_link(paid)
        env.settle()
        rt = runtime(LAWPAY_FIRM, FakeRunner())
        payments = replace(env.fp, log=structlog.get_logger())  # the daemon's logger, as build_firm_payments gives

        assert jobs.run_job(rt, "payments", jobs.collect_payments(lambda _rt: payments)) is jobs.Outcome.OK
    finally:
        env.store.close()

    said = [line for line in logs.lines() if line["level"] != "debug"]
    assert [line["event"] for line in said] == ["job"], said  # no separate "payments cycle" line
    (summary,) = said
    assert summary["connector"] == "lawpay" and summary["job"] == "payments"  # the gateway, not the PMS
    # One payment: LawPay's authorized and completed events, each applying the charge's state once;
    # nothing to resolve or move.
    assert (summary["events"], summary["transactions"], summary["charges_resolved"]) == (2, 2, 0)
    assert (summary["transfers"], summary["open_tasks"]) == (0, 0)
    (cycle,) = [line for line in logs.lines() if line["event"] == "payments cycle"]
    assert cycle["level"] == "debug"


def test_a_poll_that_follows_pms_bills_says_them_in_its_one_summary_line(logs: Logs, store, firm_id) -> None:  # type: ignore[no-untyped-def]
    # A draft bill made in the PMS for which billsync prepared no pre-bill: the poll reads it, and
    # the runtime's after-poll step follows it (outcome "no_prebill": not matched, mismatched or moved).
    store.save_reference(firm_id, [timekeeper(), client(), matter()])
    stray = RemoteBill(
        id="9", client_id="c1", matter_ids=("m1",), state=BillState.DRAFT, total=Decimal("10.00"),
        updated_at=datetime.now(UTC),
    )  # fmt: skip
    store.save_reference(firm_id, [stray])

    class BillReadingRunner(FakeRunner):
        def poll(self, report, *, only_streams=None, progress=None) -> None:  # type: ignore[no-untyped-def]
            report.records_read["bills"] += 1
            report.read_by_role[StreamRole.BILLS] += 1
            follow_new_bills(store, firm_id, BillingSettings(), None, report)

    assert jobs.run_job(runtime(firm_id, BillReadingRunner()), "poll", jobs.poll) is jobs.Outcome.OK

    said = [line for line in logs.lines() if line["level"] != "debug"]
    assert [line["event"] for line in said] == ["job"], said  # no "pms bills followed" line of its own
    (summary,) = said
    assert (summary["read"], summary["bills_followed"], summary["bills_matched"]) == (1, 1, 0)
    assert (summary["bills_mismatched"], summary["bills_waiting_for_pms"], summary["bills_moved"]) == (0, 0, 0)
    (followed,) = [line for line in logs.lines() if line["event"] == "pms bills followed"]
    assert followed["level"] == "debug" and followed["bills_followed"] == 1


class ClioWindowSpent:
    """Clio's rate-limit window, spent by the writes before: the next request waits 40 s, then goes."""

    shared = False

    def __init__(self) -> None:
        self.asked = 0

    def wait_seconds(self, key: str) -> float:
        self.asked += 1
        return 40.0 if self.asked == 1 else 0.0

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> None:
        return None


class Answers200(requests.adapters.BaseAdapter):
    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        response = requests.Response()
        response.status_code, response.url, response._content = 201, request.url, b"{}"
        return response

    def close(self) -> None:
        return None


def test_a_drain_held_by_the_vendors_rate_limit_logs_the_wait_at_once(logs: Logs) -> None:
    slept: list[float] = []
    session = requests.Session()
    session.mount("https://", Answers200())
    http = HttpClient(session=session, limiter=ClioWindowSpent(), sleep=slept.append)

    class WritingRunner(FakeRunner):
        def drain_outbox(self, writer, report, *, progress=None) -> None:  # type: ignore[no-untyped-def]
            # 3 writes due at 50 a minute: 3.6 s by the limit, a short drain that logs nothing by itself.
            progress.start("writing to Clio", total=3, requests=3, limit=RateLimit("Clio", 50))
            for _ in range(3):
                http.request("POST", "https://app.clio.com/api/v4/activities.json", rate_key="clio")
                progress.advance(1, requests=1)
            progress.finish()
            report.written += 3

    jobs.run_job(runtime("acme", WritingRunner()), "drain", jobs.drain)

    assert slept == [40.0]
    lines = [line for line in logs.lines() if line["event"] == "progress"]
    # The 40 s wait is at least the progress interval (10 s): said as it begins, with its length,
    # where nothing would otherwise be logged for 40 s; then the final line.
    assert [(line["done"], line.get("waiting_seconds"), line["final"]) for line in lines] == [
        (0, 40.0, False),
        (3, None, True),
    ]
    assert all(line["job"] == "drain" for line in lines)
