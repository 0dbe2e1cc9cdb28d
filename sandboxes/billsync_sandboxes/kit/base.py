"""What every vendor's sandbox holds besides its records, whatever the vendor."""

from __future__ import annotations

import threading

from billsync_sandboxes.kit.clock import Clock, SystemClock
from billsync_sandboxes.kit.faults import FaultInjector
from billsync_sandboxes.kit.requestlog import RequestLog


class SandboxBase:
    """A sandbox's clock, lock, fault injector and request log; each vendor's sandbox class extends it.

    `lock` guards all of the sandbox's state: the API answers in a thread pool and webhook
    deliveries run beside it. `faults` is seeded by `rng_seed`, so a fault pattern repeats per seed.
    """

    def __init__(self, *, clock: Clock | None, rng_seed: int) -> None:
        self.clock: Clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.faults = FaultInjector(seed=rng_seed)
        self.request_log = RequestLog()
