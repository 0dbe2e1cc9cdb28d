"""What every vendor's stand-in holds besides its records, whatever the vendor."""

from __future__ import annotations

import threading

from core.sandbox.clock import Clock, SystemClock
from core.sandbox.faults import FaultInjector
from core.sandbox.requestlog import RequestLog


class StandIn:
    """A stand-in's clock, lock, fault injector and request log; a vendor's sandbox class extends it.

    `lock` guards all of the stand-in's state: the API answers in a thread pool and webhook
    deliveries run beside it. `faults` is seeded by `rng_seed`, so a fault pattern repeats per seed.
    """

    def __init__(self, *, clock: Clock | None, rng_seed: int) -> None:
        self.clock: Clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.faults = FaultInjector(seed=rng_seed)
        self.request_log = RequestLog()
