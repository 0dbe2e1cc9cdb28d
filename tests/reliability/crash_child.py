"""A fork server for the crash test: imports billsync once, then runs each command in a forked child.

Every run is a real OS process executing `billsync <args>` (the CLI's own `main`), which the
test kills with SIGKILL at a random moment. Forking from a process that already imported
billsync saves the 1.3 s import per run, so hundreds of kill points fit in minutes. The server
itself never opens the database or a socket and starts no thread, so forking it is safe.

Protocol, one JSON object per line: the test writes `{"args": [...], "log": path, "crash_at":
"<point>:<n>" | null}`; the server answers `{"pid": N}` once the child runs and `{"pid": N,
"exit": code}` when it is gone (-9 after SIGKILL, 137 after a crash hook).

Crash hooks exist only here, in the test harness, never in billsync: `crash_at` makes the
child `os._exit(137)` at the n-th time it reaches one of these points:

- before_remote_write: the outbox row is marked "sending", the POST is not sent yet;
- remote_write_applied: the PMS stored the entry, its answer never reached the store;
- lookup_done: after a recovery lookup (of one entry, or a matter's grouped one) answered, before
  its result is stored;
- update_applied: the PMS applied an update, the outbox row is not yet done;
- page_stored: a page's records are stored, its cursor is not;
- write_recorded: the remote id and the outbox row were just committed.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

CRASH_EXIT = 137
POINTS = (
    "before_remote_write",
    "remote_write_applied",
    "lookup_done",
    "update_applied",
    "page_stored",
    "write_recorded",
)


def _counter(nth: int) -> Callable[[], bool]:
    seen = 0

    def reached() -> bool:
        nonlocal seen
        seen += 1
        return seen >= nth

    return reached


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(CRASH_EXIT)


class _CrashingWriter:
    """The connector's writer, dying at the chosen point."""

    def __init__(self, inner: Any, point: str, reached: Callable[[], bool]) -> None:
        self._inner = inner
        self._point = point
        self._reached = reached

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def write_time_entry(self, *args: Any, **kwargs: Any) -> Any:
        if self._point == "before_remote_write" and self._reached():
            _die()
        result = self._inner.write_time_entry(*args, **kwargs)
        if self._point == "remote_write_applied" and self._reached():
            _die()  # the vendor has the entry; billsync never learns its id
        return result

    def find_time_entry(self, *args: Any, **kwargs: Any) -> Any:
        result = self._inner.find_time_entry(*args, **kwargs)
        if self._point == "lookup_done" and self._reached():
            _die()
        return result

    def find_time_entries(self, *args: Any, **kwargs: Any) -> Any:
        result = self._inner.find_time_entries(*args, **kwargs)
        if self._point == "lookup_done" and self._reached():
            _die()
        return result

    def update_time_entry(self, *args: Any, **kwargs: Any) -> Any:
        result = self._inner.update_time_entry(*args, **kwargs)
        if self._point == "update_applied" and self._reached():
            _die()
        return result


def install_crash_hook(crash_at: str) -> None:
    """Patch this (child) process so it dies at the n-th arrival at the named point."""
    from core.store.sync_state import SyncState
    from core.sync import SyncRunner

    point, _, nth = crash_at.partition(":")
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    reached = _counter(int(nth or 1))
    if point in ("before_remote_write", "remote_write_applied", "lookup_done", "update_applied"):
        drain = SyncRunner.drain_outbox

        def crashing_drain(self: SyncRunner, writer: Any, report: Any, **options: Any) -> None:
            drain(self, _CrashingWriter(writer, point, reached), report, **options)  # progress=, as the CLI passes

        SyncRunner.drain_outbox = crashing_drain  # type: ignore[method-assign]
    elif point == "page_stored":
        save_cursor = SyncState.save_cursor

        def crashing_save_cursor(self: SyncState, *args: Any, **kwargs: Any) -> None:
            if reached():
                _die()  # the page's records are committed, its cursor is not
            save_cursor(self, *args, **kwargs)

        SyncState.save_cursor = crashing_save_cursor  # type: ignore[method-assign]
    else:
        complete = SyncState.complete

        def crashing_complete(self: SyncState, *args: Any, **kwargs: Any) -> None:
            complete(self, *args, **kwargs)
            if reached():
                _die()

        SyncState.complete = crashing_complete  # type: ignore[method-assign]


def _child(request: dict[str, Any], main: Callable[[], None]) -> None:
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    code = 0
    try:
        if request.get("crash_at"):
            install_crash_hook(request["crash_at"])
        sys.argv = ["billsync", *request["args"]]
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    """Answer run requests from stdin until it closes."""
    os.environ.setdefault("COLUMNS", "200")
    from core.cli import main  # the one expensive import, shared by every child

    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, main)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"pid": pid, "exit": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
