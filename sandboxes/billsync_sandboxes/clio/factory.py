"""Build the Clio sandbox for `billsync sandbox` / `billsync demo`, and the settings that reach it.

Registered as the `clio` entry point of the `billsync.sandboxes` group; core's sandbox server
mounts what it returns at /clio (API) and /_sandbox/clio (admin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billsync_sandboxes.clio.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    ClioSandbox,
)
from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.server import api_root


def build_sandbox(
    seed: Mapping[str, Any],
    *,
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE,
    clock: Clock | None = None,
) -> ClioSandbox:
    """Return a Clio sandbox loaded with seed, using the sandbox's fixed client id and secret.

    `clock`: the sandbox's clock (the demo's: its month's end, running on); None: the real clock.
    """
    return ClioSandbox(
        seed,
        rate_limit_per_minute=rate_limit_per_minute,
        # The daemon's webhook receiver listens on plain http on loopback; real Clio needs https.
        allow_http_webhooks=True,
        clock=clock,
    )


def connector_settings(base_url: str) -> dict[str, Any]:
    """Return the Clio connector settings that point at a sandbox server at base_url."""
    return {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "base_url": api_root(base_url, "clio"),
    }


def firm_settings(sandbox: ClioSandbox, base_url: str) -> dict[str, Any]:
    """What a firm on this sandbox configures (`billsync sandbox --write-config`): it is the PMS."""
    del sandbox  # every clio sandbox is reached the same way
    return {"pms": "clio", "connectors": {"clio": connector_settings(base_url)}}
