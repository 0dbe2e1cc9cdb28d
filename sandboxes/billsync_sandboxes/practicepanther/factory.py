"""Build the PracticePanther sandbox for `billsync sandbox` / `billsync demo`, and settings that reach it.

Meant as the `practicepanther` entry point of the `billsync.sandboxes` and
`billsync.sandbox_settings` groups; core's sandbox server mounts what `build_sandbox` returns at
/practicepanther (API) and /_sandbox/practicepanther (admin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.server import api_root
from billsync_sandboxes.practicepanther.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RATE_LIMIT,
    RATE_WINDOW_SECONDS,
    PracticePantherSandbox,
)


def build_sandbox(
    seed: Mapping[str, Any], *, rate_limit_per_minute: int | None = None, clock: Clock | None = None
) -> PracticePantherSandbox:
    """A sandbox loaded with seed, limited to 300 requests per 5 minutes (docs/vendors/practicepanther.md §5).

    The CLI passes one per-minute figure to every vendor (Clio's 50 by default, 100,000 for the
    demo). Scaled to PP's 5-minute window it may only raise the limit, never go below PP's 300;
    `PUT /_sandbox/practicepanther/rate_limit` sets any other value.
    `clock`: the sandbox's clock (the demo's: its month's end, running on); None: the real clock.
    """
    scaled = 0 if rate_limit_per_minute is None else rate_limit_per_minute * 5
    limit = max(DEFAULT_RATE_LIMIT, scaled)
    return PracticePantherSandbox(
        seed,
        rate_limit=limit,
        rate_window_seconds=RATE_WINDOW_SECONDS,
        clock=clock,
    )


def connector_settings(base_url: str) -> dict[str, Any]:
    """The connector settings that point at a sandbox server at base_url."""
    return {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "base_url": api_root(base_url, "practicepanther"),
    }


def firm_settings(sandbox: PracticePantherSandbox, base_url: str) -> dict[str, Any]:
    """What a firm on this sandbox configures (`billsync sandbox --write-config`): it is the PMS."""
    del sandbox  # every practicepanther sandbox is reached the same way
    return {"pms": "practicepanther", "connectors": {"practicepanther": connector_settings(base_url)}}
