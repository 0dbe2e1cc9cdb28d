"""Progress of long work: the ETA arithmetic, the forecast before a long drain, and the reporters.

Every figure is worked out by hand in the comments beside it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog
from rich.console import Console

from core.logging import configure_logging
from core.progress import (
    BarProgress,
    LogProgress,
    PhaseTally,
    RateLimit,
    duration_words,
    eta_seconds,
    write_forecast,
)

CLIO_AT_PEAK = RateLimit("Clio", 50)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_sets_the_pace_when_it_is_slower_than_the_measured_one() -> None:
    # 180 approvals at Clio's 50 a minute, one request each: 180 / 50 = 3.6 min = 216 s, though
    # the first 40 went in 2 s (the window's spare requests): 140 left take 140 * 60 / 50 = 168 s.
    assert eta_seconds(done=0, total=180, elapsed=0.0, requests_left=180, per_minute=50) == 216.0
    assert eta_seconds(done=40, total=180, elapsed=2.0, requests_left=140, per_minute=50) == 168.0


def test_the_measured_pace_wins_when_it_is_slower_than_the_limit() -> None:
    # 60 done in 120 s: 2 s each, 20 left take 40 s; the limit would allow 20 in 20 * 60 / 50 = 24 s.
    assert eta_seconds(done=60, total=80, elapsed=120.0, requests_done=60, requests_left=20, per_minute=50) == 40.0


def test_within_the_first_minutes_requests_only_the_limit_counts() -> None:
    # 5 done after 71 s, 70 of them waiting for Clio's window: 71 / 5 * 45 = 639 s measured, but
    # with fewer than 50 requests done that is the window's pace; the limit says 90 * 60 / 50 = 108 s.
    assert eta_seconds(done=5, total=50, elapsed=71.0, requests_done=10, requests_left=90, per_minute=50) == 108.0
    # Without a limit there is nothing else to go by.
    assert eta_seconds(done=5, total=50, elapsed=71.0, requests_done=10) == pytest.approx(639.0)


def test_without_a_limit_only_the_measured_pace_counts_and_without_either_there_is_no_eta() -> None:
    assert eta_seconds(done=4, total=10, elapsed=2.0) == 3.0  # 0.5 s each, 6 left
    assert eta_seconds(done=0, total=10, elapsed=5.0) is None  # nothing done yet, no limit known
    assert eta_seconds(done=7, total=None, elapsed=5.0) is None  # a stream's length is not known up front


def test_updates_cost_their_requests_at_the_limit() -> None:
    # 180 approvals are 180 updates of 2 requests (GET, then PATCH): 360 * 60 / 50 = 432 s.
    assert eta_seconds(done=0, total=180, elapsed=0.0, requests_left=360, per_minute=50) == 432.0


def test_while_the_limit_holds_writes_back_the_time_left_counts_down_not_up() -> None:
    tally = PhaseTally("writing to Clio", total=100, requests=100, limit=CLIO_AT_PEAK, started=0.0)
    assert tally.eta(0.0) == 120.0  # 100 * 60 / 50
    tally.add(21, 21, now=1.0)  # the window's spare requests go at once
    assert tally.eta(1.0) == pytest.approx(94.8)  # 79 * 60 / 50: the first window's pace is the limit's
    # Nothing is done while Clio's window runs out: 30 s later 64.8 s are left.
    assert tally.eta(31.0) == pytest.approx(64.8)
    # Run out with 79 still to do: worked out afresh, and within the first minute's requests that
    # is the limit's pace again.
    assert tally.eta(200.0) == pytest.approx(94.8)
    tally.add(39, 39, now=70.0)  # 60 done in 70 s, past the first minute's requests
    # 40 left: measured 70 / 60 * 40 = 46.7 s; the limit 40 * 60 / 50 = 48 s, the slower.
    assert tally.eta(70.0) == pytest.approx(48.0)
    # 10 s later with nothing done: 38 s (worked out afresh, 80 / 60 * 40 = 53.3 s, and rising).
    assert tally.eta(80.0) == pytest.approx(38.0)
    # 50 s later still nothing: the 48 s ran out, and 120 / 60 * 40 = 80 s is what the pace says now.
    assert tally.eta(120.0) == pytest.approx(80.0)
    tally.add(40, 40, now=121.0)
    assert tally.eta(121.0) == 0.0 and tally.eta(500.0) == 0.0  # all done: nothing left, however late


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s"),
        (0.2, "1 s"),
        (45, "45 s"),
        (60, "1 min"),
        (216, "3 min 36 s"),
        (432, "7 min 12 s"),
        (3720, "1 h 2 min"),
    ],
)
def test_durations_are_said_as_people_say_them(seconds: float, said: str) -> None:
    assert duration_words(seconds) == said


def test_the_forecast_names_the_entries_the_requests_and_the_time_the_limit_takes() -> None:
    assert write_forecast(180, 180, CLIO_AT_PEAK) == (
        "writing 180 entries to Clio: at Clio's limit of 50 requests a minute this takes about 3 min 36 s"
    )
    assert write_forecast(180, 360, CLIO_AT_PEAK) == (
        "writing 180 entries to Clio (360 requests): at Clio's limit of 50 requests a minute "
        "this takes about 7 min 12 s"
    )


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(stream=out, json=True)
    yield out
    structlog.reset_defaults()


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_log_lines_come_at_most_every_n_seconds_and_a_final_one_ends_each_phase(logged: io.StringIO) -> None:
    clock = Clock()
    progress = LogProgress(structlog.get_logger(), every_seconds=10, clock=clock)
    progress.start("writing to Clio", total=100, requests=100, limit=CLIO_AT_PEAK)
    for _ in range(100):
        clock.now += 0.5  # an entry every half second: a line at 10 s, 20 s, 30 s, 40 s, 50 s
        progress.advance(1, requests=1)
    progress.finish()

    said = lines(logged)
    assert [line["event"] for line in said] == ["progress"] * 7
    assert [line["done"] for line in said] == [0, 20, 40, 60, 80, 100, 100]
    assert [line["final"] for line in said] == [False] * 6 + [True]
    # At the start only the limit is known: 100 * 60 / 50 = 120 s. At 20 done in 10 s the
    # limit's 80 * 60 / 50 = 96 s is slower than the measured 80 * 0.5 = 40 s.
    assert said[0]["eta_seconds"] == 120.0 and said[1]["eta_seconds"] == 96.0
    assert said[0]["total"] == 100 and said[0]["requests"] == 100 and said[0]["limit_per_minute"] == 50


def test_a_phase_without_a_total_gets_its_count_as_total_at_the_end_and_an_empty_one_stays_quiet(
    logged: io.StringIO,
) -> None:
    clock = Clock()
    progress = LogProgress(structlog.get_logger(), every_seconds=10, clock=clock)
    progress.start("reading matters")
    progress.advance(200, requests=1)
    progress.advance(17, requests=1)
    progress.start("reading bills")  # finds nothing
    progress.finish()

    [line] = lines(logged)
    assert (line["phase"], line["done"], line["total"], line["final"]) == ("reading matters", 217, 217, True)


def test_the_daemon_logs_only_long_work(logged: io.StringIO) -> None:
    clock = Clock()
    progress = LogProgress(structlog.get_logger(), every_seconds=10, long_only=True, clock=clock)
    progress.start("writing to Clio", total=20, requests=20, limit=CLIO_AT_PEAK)  # 24 s: not long
    clock.now += 3
    progress.advance(20, requests=20)
    progress.start("writing to Clio", total=40, requests=40, limit=CLIO_AT_PEAK)  # 48 s: said up front
    clock.now += 50
    progress.advance(40, requests=40)
    progress.start("reading matters")  # quick: nothing
    progress.advance(5)
    progress.start("capturing communications")  # runs past 10 s: a line, then the final one
    clock.now += 11
    progress.advance(3000)
    progress.finish()

    said = [(line["phase"], line["done"], line["final"]) for line in lines(logged)]
    assert said == [
        ("writing to Clio", 0, False),
        ("writing to Clio", 40, False),
        ("writing to Clio", 40, True),
        ("capturing communications", 3000, False),
        ("capturing communications", 3000, True),
    ]


def test_a_forecast_is_logged_and_said(logged: io.StringIO) -> None:
    said: list[str] = []
    progress = LogProgress(structlog.get_logger(), announce=said.append, clock=Clock())
    progress.start("writing to Clio", total=180, requests=180, limit=CLIO_AT_PEAK)
    progress.forecast(write_forecast(180, 180, CLIO_AT_PEAK))

    forecast = lines(logged)[-1]
    assert forecast["event"] == "progress forecast" and forecast["phase"] == "writing to Clio"
    assert said == [forecast["forecast"]] == [
        "writing 180 entries to Clio: at Clio's limit of 50 requests a minute this takes about 3 min 36 s"
    ]


def test_the_bar_shows_the_phase_as_text_with_its_count_and_eta() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, markup=False, emoji=False)
    clock = Clock()
    with BarProgress(console, clock=clock) as bar:
        bar.start("writing to [bold]Clio[/bold] :lock:", total=180, requests=180, limit=CLIO_AT_PEAK)
        clock.now += 2
        bar.advance(40, requests=40)
        bar.forecast("[red]not markup[/red]")
        console.file.flush()
    shown = out.getvalue()
    assert "writing to [bold]Clio[/bold] :lock:" in shown  # as typed: no markup, no emoji
    assert "[red]not markup[/red]" in shown
    assert "━" in shown  # the bar itself
    # Drawn at the start: 0/180 and the limit's 180 * 60 / 50 = 216 s.
    assert "0/180" in shown and "about 3 min 36 s left" in shown


def test_a_long_wait_for_the_limit_is_logged_at_once_and_a_short_one_only_when_a_line_is_due(
    logged: io.StringIO,
) -> None:
    clock = Clock()
    progress = LogProgress(structlog.get_logger(), every_seconds=10, clock=clock)
    progress.start("writing to Clio", total=100, requests=100, limit=CLIO_AT_PEAK)
    clock.now += 2
    progress.advance(49, requests=49)
    progress.waiting(57.5)  # Clio's window is spent: the log would say nothing for a minute
    clock.now += 57.5
    progress.advance(1, requests=1)  # the window opened: a line is due (57.5 s since the last)
    clock.now += 3
    progress.waiting(4.0)  # short, 3 s after the last line: not said
    clock.now += 12
    progress.waiting(2.0)  # short, but a line is due anyway (15 s since the last)
    said = lines(logged)
    assert [(line["done"], line.get("waiting_seconds")) for line in said] == [
        (0, None),
        (49, 57.5),
        (50, None),
        (50, 2.0),
    ]
    # While held back, the time left is at least the wait: 51 left at the limit is 61.2 s.
    assert said[1]["eta_seconds"] == 61.2


def test_the_bar_says_it_waits_for_the_limit_and_counts_the_wait_down() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, markup=False, emoji=False)
    clock = Clock()
    bar = BarProgress(console, clock=clock)
    bar.start("writing to Clio", total=100, requests=100, limit=CLIO_AT_PEAK)
    clock.now += 1
    bar.advance(49, requests=49)
    bar.waiting(58.2)
    clock.now += 10
    shown = bar.eta_text()  # what the ETA column shows at this refresh
    # 51 left at the limit: 61.2 s, estimated 10 s ago; the wait has 48.2 s to go.
    assert shown == "about 52 s left, waiting 49 s for Clio's rate limit"
    clock.now += 50
    assert "waiting" not in bar.eta_text()  # the wait is over
    bar.advance(1, requests=1)  # 50 left: about a minute at the pace so far, but Clio holds them back 75 s
    bar.waiting(75.0)
    assert bar.eta_text() == "about 1 min 15 s left, waiting 1 min 15 s for Clio's rate limit"
