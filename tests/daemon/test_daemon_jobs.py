"""One job run, one summary line: context bound, counts reported, failures contained."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from core.daemon import jobs
from core.errors import AuthFailed
from core.logging import configure_logging
from tests.daemon.daemon_fakes import FakeRunner, Logs, make_daemon, runtime

TOKEN = "CANARY-tok-51c2"


@pytest.fixture
def logs() -> Iterator[Logs]:
    captured = Logs()
    configure_logging(level="debug", stream=captured.out, json=True)
    yield captured
    structlog.reset_defaults()


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
