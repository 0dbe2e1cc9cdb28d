"""Background work for the HTTP server: re-polls and captures, one firm at a time, off the request path.

A webhook is a doorbell: ringing it ten times while a re-poll is queued still means one re-poll,
so requests are coalesced per firm and stream, and a firm's re-polls are debounced: the next one
starts no sooner than `repoll_interval` after the last ended (a burst of deliveries would
otherwise poll the vendor back to back and fight the webhook handler for the database).

Work for one firm never runs twice at once (a poll and a capture of the same firm would race on
cursors and the day ledger); different firms run in parallel on a small pool of threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from core.errors import ShuttingDown

Poll = Callable[[frozenset[str]], None]
Job = Callable[[], None]


@dataclass
class _Lane:
    """One firm's waiting work: streams to re-poll (coalesced) and jobs (in order)."""

    poll: Poll | None = None
    streams: set[str] = field(default_factory=set)
    jobs: deque[tuple[str, Job]] = field(default_factory=deque)
    poll_after: float = 0.0  # monotonic time before which no re-poll starts

    def has_work(self) -> bool:
        return bool(self.streams) or bool(self.jobs)

    def depth(self) -> int:
        return len(self.streams) + len(self.jobs)


class BackgroundWork:
    """A thread-based queue: coalesced re-polls and ordered jobs, serialised per firm."""

    def __init__(self, *, threads: int = 2, repoll_interval: float = 0.25) -> None:
        self._size = max(1, threads)
        self._interval = repoll_interval
        self._lock = threading.Condition()
        self._lanes: dict[str, _Lane] = {}
        self._ready: deque[str] = deque()  # firms with work that no thread holds
        self._running: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._log = structlog.get_logger().bind(component="background")

    # Submitting ---------------------------------------------------------------------------------

    def repoll(self, firm: str, streams: Iterable[str], poll: Poll) -> None:
        """Ask for a re-poll of `streams`; merged with any re-poll of the firm still waiting."""
        wanted = set(streams)
        if not wanted:
            return
        with self._lock:
            lane = self._lane(firm)
            lane.poll = poll
            lane.streams |= wanted
            self._wake(firm)

    def submit(self, firm: str, kind: str, job: Job, *, coalesce: bool = False) -> None:
        """Queue a job for a firm; a firm's jobs run in submission order, never alongside its polls.

        With `coalesce`, a job of the same kind still waiting for the firm stands for this one too.
        """
        with self._lock:
            lane = self._lane(firm)
            if coalesce and any(waiting == kind for waiting, _ in lane.jobs):
                return
            lane.jobs.append((kind, job))
            self._wake(firm)

    def depth(self) -> int:
        """Waiting work items (a stream to re-poll or a job), not counting those running now."""
        with self._lock:
            return sum(lane.depth() for lane in self._lanes.values())

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing waits or runs; False if `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running or any(lane.has_work() for lane in self._lanes.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking work, let running work finish, and join the threads."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=timeout)

    # Running ------------------------------------------------------------------------------------

    def _lane(self, firm: str) -> _Lane:
        if self._closed:
            raise RuntimeError("background work is closed")
        return self._lanes.setdefault(firm, _Lane())

    def _wake(self, firm: str) -> None:
        # Called with the lock held. A running firm is re-queued by its thread when it finishes.
        if firm not in self._running and firm not in self._ready:
            self._ready.append(firm)
        if len(self._threads) < self._size:
            # Threads start on first use, so an app built and thrown away in a test leaks none.
            thread = threading.Thread(target=self._loop, name=f"billsync-bg-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()
        self._lock.notify_all()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while True:
                    firm, wait = self._next_ready(time.monotonic())
                    if firm is not None:
                        break
                    if self._closed and not self._ready:
                        return  # closed and drained
                    self._lock.wait(wait)
                self._running.add(firm)
                lane = self._lanes[firm]
                kind, work = self._take(lane, time.monotonic())
            self._run(kind, firm, work)
            with self._lock:
                self._running.discard(firm)
                if kind == "repoll":
                    lane.poll_after = time.monotonic() + self._interval
                if lane.has_work():
                    self._ready.append(firm)
                self._lock.notify_all()

    def _next_ready(self, now: float) -> tuple[str | None, float | None]:
        # The first waiting firm with work due now; else how long until the earliest is due.
        soonest: float | None = None
        for firm in self._ready:
            lane = self._lanes[firm]
            if lane.jobs or self._closed or lane.poll_after <= now:
                self._ready.remove(firm)
                return firm, None
            left = lane.poll_after - now
            soonest = left if soonest is None else min(soonest, left)
        return None, soonest

    def _take(self, lane: _Lane, now: float) -> tuple[str, Job]:
        # Re-polls first when due: jobs may depend on the reference data a poll brings in.
        due = self._closed or lane.poll_after <= now
        if lane.streams and lane.poll is not None and due:
            streams, poll = frozenset(lane.streams), lane.poll
            lane.streams.clear()
            return "repoll", lambda: poll(streams)
        return lane.jobs.popleft()

    def _run(self, kind: str, firm: str, work: Job) -> None:
        try:
            work()
        except ShuttingDown:  # the process is stopping: the store keeps what it did not reach
            self._log.info("background work cut short", kind=kind, firm=firm)
        except Exception as exc:  # a failed job must not kill the worker; polling catches up later
            self._log.warning("background work failed", kind=kind, firm=firm, error=type(exc).__name__)
