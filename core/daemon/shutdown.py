"""Graceful shutdown on SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from core.daemon.scheduler import Daemon


def install_signal_handlers(
    daemon: Daemon, on_stop: Callable[[bool], None], timeout: float = 30.0
) -> Callable[[], None]:
    """Make the first SIGTERM or SIGINT stop `daemon` and then call `on_stop(finished)`; returns an undo."""
    fired = threading.Lock()

    def stop() -> None:
        on_stop(daemon.stop(timeout))

    def handle(_signum: int, _frame: FrameType | None) -> None:
        if not fired.acquire(blocking=False):
            return  # once: a second signal while stopping changes nothing
        daemon.stopping_begins()  # at once: no new run, no new vendor request
        # Not in the handler itself: it runs on the main thread between two bytecodes, maybe
        # while that thread holds a lock a finishing job needs, and waiting there could deadlock.
        threading.Thread(target=stop, name="billsync-stop").start()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
