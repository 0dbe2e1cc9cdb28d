"""The scheduler: explicit jobs per firm, adaptive polling, no overlap, isolation, graceful stop."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.daemon import Daemon, Intervals, install_signal_handlers
from core.errors import AuthFailed
from tests.daemon.daemon_fakes import FAST, FakeClock, FakeRunner, make_daemon, wait_until

pytestmark = pytest.mark.usefixtures("logs")  # every test here runs with its log lines captured


@pytest.fixture
def started() -> Iterator[list[Daemon]]:
    """Daemons a test starts; stopped afterwards whatever happens."""
    daemons: list[Daemon] = []
    yield daemons
    for daemon in daemons:
        for runtime in daemon.runtimes.values():
            runtime.runner.release.set()
        daemon.stop(timeout=2)


def start(started: list[Daemon], daemon: Daemon) -> Daemon:
    started.append(daemon)
    daemon.start()
    return daemon


def test_jobs_are_scheduled_per_firm(started) -> None:
    daemon = start(started, make_daemon({"acme": FakeRunner(), "globex": FakeRunner()}, intervals=Intervals()))
    schedule = daemon.schedule()

    for firm in ("acme", "globex"):
        assert schedule[f"{firm}:poll"] == "interval[0:00:30]"  # no delivery seen yet
        assert schedule[f"{firm}:drain"] == "interval[0:01:00]"
        assert (
            schedule[f"{firm}:reconcile"].startswith("cron[")
            and "hour='2', minute='0'" in schedule[f"{firm}:reconcile"]
        )
        assert f"{firm}:renew_webhooks" not in schedule  # no public URL, no webhooks


def test_webhook_renewal_is_scheduled_with_a_public_url(started) -> None:
    runner = FakeRunner()
    daemon = start(started, make_daemon({"acme": runner}, intervals=Intervals(), public_url="https://b.example"))

    assert daemon.schedule()["acme:renew_webhooks"] == "interval[6:00:00]"
    assert wait_until(lambda: runner.callbacks == ["https://b.example/hooks/fakevendor/acme"])  # at start


def test_poll_interval_follows_webhook_health(started) -> None:
    runner, clock = FakeRunner(), FakeClock()
    daemon = start(started, make_daemon({"acme": runner}, clock=clock))
    assert daemon.poll_interval("acme") == FAST.poll_unhealthy
    assert wait_until(lambda: runner.calls["poll"] >= 3)  # polling fast

    daemon.webhook_seen("acme")
    assert daemon.poll_interval("acme") == FAST.poll_healthy
    assert daemon.schedule()["acme:poll"] == "interval[0:00:30]"
    time.sleep(0.05)  # let a poll already under way finish
    relaxed = runner.calls["poll"]
    time.sleep(0.3)
    assert runner.calls["poll"] == relaxed  # 30 s now: no poll in 0.3 s

    clock.advance(FAST.webhook_fresh + timedelta(seconds=1))  # no delivery for too long
    daemon.run_soon("acme", "poll")  # the next poll notices
    assert wait_until(lambda: daemon.poll_interval("acme") == FAST.poll_unhealthy)
    assert wait_until(lambda: runner.calls["poll"] >= relaxed + 3)  # fast again


def test_a_job_never_overlaps_itself(started) -> None:
    runner = FakeRunner()
    runner.block.add("poll")  # each poll outlasts many 0.05 s intervals
    start(started, make_daemon({"acme": runner}))
    time.sleep(0.4)
    runner.release.set()
    assert wait_until(lambda: runner.calls["poll"] >= 2)
    assert runner.max_active == 1


def test_a_crashing_job_logs_an_error_line_and_runs_again(logs, started) -> None:
    runner = FakeRunner()
    runner.fail["poll"] = RuntimeError("vendor exploded")
    daemon = start(started, make_daemon({"acme": runner}))

    assert wait_until(lambda: len(logs.jobs(job="poll")) >= 3)
    polls = logs.jobs(job="poll")
    assert {line["outcome"] for line in polls} == {"error"}
    assert {line["error"] for line in polls} == {"vendor exploded"}
    assert daemon._scheduler.running
    assert wait_until(lambda: len(logs.jobs(job="drain", outcome="ok")) >= 2)  # the rest carries on


def test_every_run_has_exactly_one_summary_line(logs, started) -> None:
    runner = FakeRunner()
    runner.fail["drain"] = AuthFailed("token revoked")
    daemon = start(started, make_daemon({"acme": runner}))
    assert wait_until(lambda: runner.calls["poll"] >= 3 and runner.calls["drain"] >= 3)
    assert daemon.stop(timeout=2)

    summaries = logs.jobs()
    per_run = Counter(line["run_id"] for line in summaries)
    assert set(per_run.values()) == {1}
    assert len(summaries) == runner.calls["poll"] + runner.calls["drain"]
    assert all(line["firm"] == "acme" and line["connector"] == "fakevendor" for line in summaries)


def test_one_firms_failures_never_touch_another_firm(logs, started) -> None:
    broken, healthy = FakeRunner(), FakeRunner()
    for job in ("poll", "drain", "reconcile"):
        broken.fail[job] = AuthFailed("refresh token revoked: reconnect")
    broken.block.add("reconcile")  # and one of its jobs hangs
    intervals = Intervals(
        poll_unhealthy=timedelta(seconds=0.05), drain=timedelta(seconds=0.05), reconcile=timedelta(seconds=0.05)
    )
    start(started, make_daemon({"broken": broken, "healthy": healthy}, intervals=intervals))

    assert wait_until(
        lambda: healthy.calls["poll"] >= 3 and healthy.calls["drain"] >= 3 and healthy.calls["reconcile"] >= 3
    )
    assert {line["outcome"] for line in logs.jobs(firm="healthy")} == {"ok"}
    assert {line["outcome"] for line in logs.jobs(firm="broken")} <= {"error"}
    assert broken.calls["reconcile"] == 1  # still hanging, not re-entered


def test_stop_waits_for_running_jobs_and_takes_no_new_work(started) -> None:
    runner = FakeRunner()
    runner.block.add("poll")
    daemon = start(started, make_daemon({"acme": runner}))
    assert wait_until(lambda: runner.active == 1)

    began = time.monotonic()
    threading.Timer(0.2, runner.release.set).start()
    assert daemon.stop(timeout=3) is True
    assert 0.15 < time.monotonic() - began < 1.5
    assert runner.active == 0

    done = sum(runner.calls.values())
    time.sleep(0.2)
    assert sum(runner.calls.values()) == done


def test_stop_gives_up_after_the_timeout(started) -> None:
    runner = FakeRunner()
    runner.block.add("poll")
    daemon = start(started, make_daemon({"acme": runner}))
    assert wait_until(lambda: runner.active == 1)

    began = time.monotonic()
    assert daemon.stop(timeout=0.2) is False
    assert time.monotonic() - began < 1.0
    runner.release.set()


def test_sigterm_stops_the_daemon_once(started) -> None:
    daemon = start(started, make_daemon({"acme": FakeRunner()}))
    results: list[bool] = []
    before = signal.getsignal(signal.SIGINT)
    restore = install_signal_handlers(daemon, results.append, timeout=2)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        assert wait_until(lambda: results == [True])
        time.sleep(0.05)
        assert results == [True]
    finally:
        restore()
    assert signal.getsignal(signal.SIGINT) is before


def test_billing_payments_and_report_snapshots_are_scheduled_for_firms_that_configure_them(tmp_path) -> None:
    from config.settings import BillsyncSettings
    from core.daemon import Daemon
    from core.runtime import FirmRuntime
    from tests.daemon.daemon_fakes import FakeConnector, FakeRunner

    firms = {
        "acme": {
            "name": "Acme",
            "billing": {"schedule": {"enabled": True, "day_of_month": 1, "hour": 6}},
            "payments": {
                "operating_account": "op-1",
                "trust_account": "tr-1",
                "operating_page_url": "https://secure.lawpay.com/pages/acme/operating",
                "trust_page_url": "https://secure.lawpay.com/pages/acme/trust",
            },
            "reports": {"snapshot_folder": str(tmp_path / "reports")},
        },
        "plain": {"name": "Plain"},
    }
    settings = BillsyncSettings(firms=firms)
    daemon = Daemon(
        settings,
        None,  # type: ignore[arg-type]
        build=lambda s, firm, _store: FirmRuntime(firm, s.firm(firm), None, None, FakeConnector(), FakeRunner()),  # type: ignore[arg-type]
    )
    daemon.start()
    try:
        schedule = daemon.schedule()
    finally:
        daemon.stop()
    assert schedule["acme:billing"] == "interval[1:00:00]"
    assert schedule["acme:payments"] == "interval[0:05:00]"
    assert schedule["acme:report_snapshot"].startswith("cron[") and "hour='3'" in schedule["acme:report_snapshot"]
    assert not {"plain:billing", "plain:payments", "plain:report_snapshot"} & set(schedule)


def test_the_stop_says_which_runs_finished_which_were_cut_short_and_which_still_run(started, logs) -> None:
    from core.errors import ShuttingDown

    cut, finishing, hung = FakeRunner(), FakeRunner(), FakeRunner()
    for runner in (cut, finishing, hung):
        runner.block.add("poll")
    cut.fail["poll"] = ShuttingDown("GET /api/v4/communications: not sent, billsync is stopping")
    daemon = make_daemon({"acme": cut, "globex": finishing, "initech": hung})
    started.append(daemon)
    daemon.start()
    assert wait_until(lambda: cut.active == finishing.active == hung.active == 1)

    def release() -> None:
        cut.release.set()
        finishing.release.set()

    threading.Timer(0.1, release).start()
    report = daemon.shut_down(timeout=0.5)

    assert report.finished == ("globex:poll",)
    assert report.cut_short == ("acme:poll",)
    assert report.still_running == ("initech:poll",)
    assert not report.complete
    assert report.sentence().endswith(
        "finished: globex:poll; cut short, resumes on the next start: acme:poll, initech:poll"
    )
    hung.release.set()
