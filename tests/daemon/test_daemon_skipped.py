"""Skipped scheduled runs: every one counted, one line per job per interval, APScheduler's own warning quiet."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from core.daemon.skipped import LATE, STILL_RUNNING, SkippedRuns
from tests.daemon.daemon_fakes import FakeRunner, Logs, make_daemon, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def skipped_lines(logs: Logs) -> list[dict]:
    return [line for line in logs.lines() if line["event"] == "job runs skipped"]


def test_a_poll_skipped_every_30_s_for_an_hour_is_120_counts_and_7_lines(logs: Logs) -> None:
    counted: Counter[tuple[str, str, str]] = Counter()
    clock = Clock()
    skipped = SkippedRuns(lambda *key: counted.update([key]), every=timedelta(minutes=10), clock=clock)
    for tick in range(120):  # a slow vendor holds the poll for an hour; it is due every 30 s
        clock.now = tick * 30.0
        skipped.skipped("acme", "poll", STILL_RUNNING)
    skipped.flush()

    assert counted == {("acme", "poll", STILL_RUNNING): 120}
    lines = skipped_lines(logs)
    # The first at once (0 s), then at 600, 1200, ... 3000 s (20 skips each), and the rest at stop.
    assert [line["skipped"] for line in lines] == [1, 20, 20, 20, 20, 20, 19]
    assert sum(line["skipped"] for line in lines) == 120
    assert [line["since_last_line_seconds"] for line in lines[:3]] == [None, 600, 600]
    assert {line["level"] for line in lines} == {"warning"} and {line["job"] for line in lines} == {"poll"}


def test_each_job_has_its_own_window_and_reasons_are_told_apart(logs: Logs) -> None:
    clock = Clock()
    skipped = SkippedRuns(every=timedelta(minutes=10), clock=clock)
    skipped.skipped("acme", "poll", STILL_RUNNING)
    skipped.skipped("acme", "drain", STILL_RUNNING)  # another job: said at once too
    skipped.skipped("globex", "poll", LATE)  # another firm
    clock.now = 60
    skipped.skipped("acme", "poll", LATE)
    skipped.skipped("acme", "poll", STILL_RUNNING)
    assert [(line["firm"], line["job"]) for line in skipped_lines(logs)] == [
        ("acme", "poll"), ("acme", "drain"), ("globex", "poll")
    ]  # fmt: skip
    skipped.flush()
    last = skipped_lines(logs)[-1]
    assert (last["job"], last["skipped"], last["reasons"]) == ("poll", 2, {LATE: 1, STILL_RUNNING: 1})
    skipped.flush()  # nothing more to say
    assert len(skipped_lines(logs)) == 4


def test_a_job_longer_than_its_interval_is_counted_without_apschedulers_warning(logs: Logs) -> None:
    counted: Counter[tuple[str, str, str]] = Counter()
    runner = FakeRunner()
    runner.block.add("drain")  # the drain (every 0.05 s here) hangs until released
    daemon = make_daemon({"acme": runner}, skipped=SkippedRuns(lambda *key: counted.update([key])))
    # APScheduler's warning goes to the stdlib logger, which configure_logging routes to the same JSON.
    daemon.start()
    try:
        assert wait_until(lambda: counted[("acme", "drain", STILL_RUNNING)] >= 5)
    finally:
        runner.release.set()
        daemon.stop(timeout=2)
    text = logs.out.getvalue()
    assert "maximum number of running instances" not in text
    lines = [line for line in skipped_lines(logs) if line["job"] == "drain"]
    assert lines[0]["skipped"] == 1  # said at once, then gathered until the stop
    assert len(lines) == 2
    assert sum(line["skipped"] for line in lines) == counted[("acme", "drain", STILL_RUNNING)] >= 5


def test_other_apscheduler_warnings_still_come_through_as_json(logs: Logs) -> None:
    from core.daemon.skipped import quiet_apscheduler

    quiet_apscheduler()
    logging.getLogger("apscheduler.scheduler").warning('Execution of job "%s" skipped: maximum number of '
                                                       "running instances reached (%d)", "acme:poll", 1)
    logging.getLogger("apscheduler.scheduler").warning("Scheduler has been shut down with %s", "jobs pending")
    [line] = logs.lines()
    assert line["event"] == "Scheduler has been shut down with jobs pending"
    assert line["logger"] == "apscheduler.scheduler" and line["level"] == "warning"
