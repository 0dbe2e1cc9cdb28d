"""Progress of long work (a sync cycle, a backfill): phases, counts, totals and an honest ETA.

A reporter is handed to the code doing the work, never found through a global. The work names
each phase as it starts ("reading matters", "capturing communications", "writing to Clio"),
with its total when it is known before the first item (the outbox's due writes before a
drain), and advances it as items are done. Reporting stays cheap: the work counts what it has
in hand (a page's records, a row attempted); no reporter ever queries the store.

The ETA is the larger of two paces (`eta_seconds`): the pace measured so far, and the vendor's
rate limit (requests left at its limit per minute). Early in a drain the first window's
requests go at once and the measured pace looks fast; the limit says how long the rest must
take. A drain that the limit makes long is announced before it starts (`write_forecast`).

Three reporters: `NoProgress` (tests, short jobs), `BarProgress` (a rich bar on a terminal) and
`LogProgress` (structured `progress` lines at most every N seconds plus a final one per phase:
JSON off a terminal, through core.logging). The daemon uses `LogProgress(long_only=True)`:
only phases that run long, or a drain the limit makes long, are logged.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, Task, TaskID, TextColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from core.text import without_controls

# A drain the vendor's limit makes at least this long is announced before it starts.
LONG_WORK_SECONDS = 30.0
DEFAULT_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class RateLimit:
    """A vendor's request limit, as billsync plans with it."""

    vendor: str  # as people know it, e.g. "Clio"
    per_minute: int


def eta_seconds(
    *,
    done: int,
    total: int | None,
    elapsed: float,
    requests_done: int = 0,
    requests_left: int = 0,
    per_minute: int | None = None,
) -> float | None:
    """Seconds left: the larger of the measured pace and the rate limit's pace; None when neither is known.

    Measured: the time per item so far times the items left (needs a total and one item done).
    Limited: the requests left at the vendor's limit per minute (needs the limit). Under a limit
    the measured pace counts only once a whole minute's requests are done: before that it is
    the first window's (its spare requests go at once, then everything waits for the window to
    end), which says nothing yet about the vendor's own speed.
    """
    paces: list[float] = []
    first_window = per_minute is not None and requests_done < per_minute
    if total is not None and done > 0 and not first_window:
        paces.append(elapsed / done * max(total - done, 0))
    if per_minute:
        paces.append(max(requests_left, 0) * 60.0 / per_minute)
    return max(paces) if paces else None


def duration_words(seconds: float) -> str:
    """A duration as people say it: "45 s", "3 min 36 s", "1 h 12 min" (rounded up to the second)."""
    whole = math.ceil(seconds - 1e-9) if seconds > 0 else 0
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(whole, 3600)
    minutes = rest // 60
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def write_forecast(entries: int, requests: int, limit: RateLimit) -> str:
    """The line said before a long drain: what is written, and how long the vendor's limit makes it take."""
    noun = "entry" if entries == 1 else "entries"
    cost = "" if requests == entries else f" ({requests} requests)"
    took = duration_words(requests * 60.0 / limit.per_minute)
    return (
        f"writing {entries} {noun} to {limit.vendor}{cost}: at {limit.vendor}'s limit of "
        f"{limit.per_minute} requests a minute this takes about {took}"
    )


class Progress(Protocol):
    """What long work tells about itself. One phase at a time; starting one ends the one before."""

    def start(
        self,
        phase: str,
        *,
        total: int | None = None,
        requests: int = 0,
        limit: RateLimit | None = None,
        unit: str = "done",
    ) -> None:
        """A phase begins: `total` items when known up front, costing `requests` against `limit`.

        `unit` says what a count of items is when no total is known ("91 read")."""
        ...

    def advance(self, items: int = 1, *, requests: int = 0) -> None:
        """`items` more done, having used `requests` of the vendor's limit."""
        ...

    def forecast(self, line: str) -> None:
        """Say before long work starts how long it will take (printed on a terminal, logged off one)."""
        ...

    def waiting(self, seconds: float) -> None:
        """The vendor's rate limit holds the next request back this long (core.http's `on_wait`)."""
        ...

    def finish(self) -> None:
        """The current phase is over (its final line is logged)."""
        ...


class NoProgress:
    """Reports nothing."""

    def start(
        self,
        phase: str,
        *,
        total: int | None = None,
        requests: int = 0,
        limit: RateLimit | None = None,
        unit: str = "done",
    ) -> None:
        return None

    def advance(self, items: int = 1, *, requests: int = 0) -> None:
        return None

    def forecast(self, line: str) -> None:
        return None

    def waiting(self, seconds: float) -> None:
        return None

    def finish(self) -> None:
        return None


@dataclass
class PhaseTally:
    """One phase's counts: items and requests, done and in total, since `started` (monotonic).

    The ETA is estimated when the phase starts and each time items are done; between those it
    counts down. While the vendor's limit holds writes back nothing is done, and a measured pace
    worked out afresh at each look would only grow: a person would see the time left rising by a
    second every second. Only once the countdown has run out is it worked out afresh.
    """

    phase: str
    total: int | None
    requests: int
    limit: RateLimit | None
    started: float
    done: int = 0
    requests_done: int = 0
    estimate: float | None = None  # seconds left, as estimated at `estimated_at`
    estimated_at: float = 0.0
    held_until: float = 0.0  # the vendor's rate limit holds the next request back until then

    def __post_init__(self) -> None:
        self._estimate(self.started)

    def add(self, items: int, requests: int, now: float) -> None:
        """Count `items` more done, having used `requests`, at `now`; the ETA is estimated again."""
        self.done += items
        self.requests_done += requests
        if self.total is not None and self.done > self.total:
            self.total = self.done  # a write that fell due meanwhile: the total was a floor
        self.requests = max(self.requests, self.requests_done)
        self._estimate(now)

    def hold(self, until: float) -> None:
        """The vendor's rate limit holds requests back until `until` (monotonic)."""
        self.held_until = max(self.held_until, until)

    def eta(self, now: float) -> float | None:
        """Seconds left at `now`: the last estimate, less the time since it was made.

        Once that has run out with items still to do, the work is late: the estimate is worked
        out afresh, from the time gone by so far. Never less than a wait the limit imposes."""
        if self.estimate is None:
            return None
        left = self.estimate - (now - self.estimated_at)
        if not (left > 0 or self.total is None or self.done >= self.total):
            left = self._worked_out(now) or 0.0
        return max(left, self.held_until - now, 0.0)

    def _estimate(self, now: float) -> None:
        self.estimate = self._worked_out(now)
        self.estimated_at = now

    def _worked_out(self, now: float) -> float | None:
        return eta_seconds(
            done=self.done,
            total=self.total,
            elapsed=now - self.started,
            requests_done=self.requests_done,
            requests_left=self.requests - self.requests_done if self.limit is not None else 0,
            per_minute=self.limit.per_minute if self.limit is not None else None,
        )


class LogProgress:
    """Structured `progress` lines: at most one every `every_seconds` per phase, plus a final one.

    A phase with a total up front also gets a line as it starts (done 0, with the ETA the rate
    limit gives); a phase that found nothing gets none. `long_only` (the daemon): a phase is
    logged only once it has run for `every_seconds`, or when it starts with an ETA of
    LONG_WORK_SECONDS or more.
    """

    def __init__(
        self,
        log: Any,
        *,
        every_seconds: float = DEFAULT_EVERY_SECONDS,
        long_only: bool = False,
        announce: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log  # a structlog logger
        self._every = every_seconds
        self._long_only = long_only
        self._announce = announce  # also says a forecast to a person (the CLI's stdout)
        self._clock = clock
        self._tally: PhaseTally | None = None
        self._last_line = 0.0
        self._logged = False  # this phase has had a line: its final one follows

    def start(
        self,
        phase: str,
        *,
        total: int | None = None,
        requests: int = 0,
        limit: RateLimit | None = None,
        unit: str = "done",
    ) -> None:
        self.finish()
        now = self._clock()
        self._tally = PhaseTally(phase, total, requests, limit, now)
        self._last_line, self._logged = now, False
        if total:
            eta = self._tally.eta(now)
            if not self._long_only or (eta is not None and eta >= LONG_WORK_SECONDS):
                self._line(now)

    def advance(self, items: int = 1, *, requests: int = 0) -> None:
        tally = self._tally
        if tally is None:
            return
        now = self._clock()
        tally.add(items, requests, now)
        if now - self._last_line >= self._every:
            self._line(now)

    def forecast(self, line: str) -> None:
        tally = self._tally
        self._log.info("progress forecast", phase=tally.phase if tally else None, forecast=line)
        if self._announce is not None:
            self._announce(line)

    def waiting(self, seconds: float) -> None:
        """A wait the limit imposes is logged: else the log says nothing while it lasts.

        A wait of `every_seconds` or more is logged at once (nothing else can be logged while it
        lasts, so lines still come no oftener than one per `every_seconds` on average); a
        shorter one only where a line is due anyway."""
        now = self._clock()
        if self._tally is None:
            return
        self._tally.hold(now + seconds)
        if seconds >= self._every or now - self._last_line >= self._every:
            self._line(now, waiting=seconds)

    def finish(self) -> None:
        tally = self._tally
        if tally is None:
            return
        if tally.total is None:
            tally.total = tally.done  # known now
        if self._logged or (not self._long_only and tally.done):  # a phase that found nothing stays quiet
            self._line(self._clock(), final=True)
        self._tally = None

    def _line(self, now: float, *, final: bool = False, waiting: float | None = None) -> None:
        tally = self._tally
        assert tally is not None
        eta = 0.0 if final else tally.eta(now)
        fields: dict[str, Any] = {
            "phase": tally.phase,
            "done": tally.done,
            "total": tally.total,
            "eta_seconds": None if eta is None else round(eta, 1),
            "elapsed_seconds": round(now - tally.started, 1),
            "final": final,
        }
        if tally.limit is not None:
            fields |= {"requests": tally.requests, "limit_per_minute": tally.limit.per_minute}
        if waiting is not None:
            fields["waiting_seconds"] = round(waiting, 1)  # for the vendor's rate limit
        self._log.info("progress", **fields)
        self._last_line, self._logged = now, True


class BarProgress:
    """A rich progress bar on a terminal: the phase, a bar, done/total and the ETA.

    Used as a context manager around the work; the bar goes when the work ends (the command's
    summary follows). Phase names are shown as text, never as rich markup.
    """

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._clock = clock
        self._bar = RichProgress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _Shown(self._count),
            _Shown(self.eta_text),  # worked out at each refresh: it counts down while the limit holds writes
            console=console,
            transient=True,
            refresh_per_second=4,
            # Log lines on the same terminal are printed above the bar; stderr sent to a file stays there.
            redirect_stderr=sys.stderr.isatty(),
        )
        self._task: TaskID | None = None
        self._tally: PhaseTally | None = None
        self._unit = "done"
        self._counting = False  # the phase has no total: its count is shown as "91 read"

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.finish()
        self._bar.stop()

    def start(
        self,
        phase: str,
        *,
        total: int | None = None,
        requests: int = 0,
        limit: RateLimit | None = None,
        unit: str = "done",
    ) -> None:
        self.finish()
        self._tally = PhaseTally(phase, total, requests, limit, self._clock())
        self._unit, self._counting = unit, total is None
        self._task = self._bar.add_task(without_controls(phase), total=total)
        self._bar.refresh()  # drawn at once: a phase shorter than a refresh is still seen

    def advance(self, items: int = 1, *, requests: int = 0) -> None:
        if self._tally is None:
            return
        self._tally.add(items, requests, self._clock())
        if self._task is not None:
            self._bar.update(self._task, total=self._tally.total, completed=self._tally.done)

    def forecast(self, line: str) -> None:
        self._console.print(Text(without_controls(line)), soft_wrap=True, highlight=False)

    def waiting(self, seconds: float) -> None:
        if self._tally is not None:
            self._tally.hold(self._clock() + seconds)

    def finish(self) -> None:
        if self._task is not None and self._tally is not None:
            # Drawn once more at its final count before it goes: a phase whose items all came in one
            # page (or one batch) would otherwise be last seen at 0, whatever it did.
            done = self._tally.done
            self._bar.update(self._task, total=self._tally.total if not self._counting else done, completed=done)
            self._bar.refresh()
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task, self._tally = None, None

    def _count(self) -> str:
        tally = self._tally
        if tally is None:
            return ""
        if self._counting:
            return f"{tally.done} {self._unit}"  # no total known up front: a running count
        return f"{tally.done}/{tally.total}"

    def eta_text(self) -> str:
        """What the ETA column shows now: the time left, and any wait for the vendor's rate limit."""
        tally, now = self._tally, self._clock()
        if tally is None:
            return ""
        eta = tally.eta(now)
        left = "" if eta is None else f"about {duration_words(eta)} left"
        if now < tally.held_until:
            vendor = tally.limit.vendor if tally.limit is not None else "the vendor"
            wait = f"waiting {duration_words(tally.held_until - now)} for {vendor}'s rate limit"
            return f"{left}, {wait}" if left else wait
        return left


class _Shown(ProgressColumn):
    """A column showing what a function says at each refresh, as text (never markup)."""

    def __init__(self, shown: Callable[[], str]) -> None:
        super().__init__()
        self._shown = shown

    def render(self, task: Task) -> Text:
        return Text(without_controls(self._shown()))
