"""Build the NetDocuments sandbox for `billsync sandbox` / `billsync demo`, and settings that reach it.

The `netdocuments` entry point of the `billsync.sandboxes` and `billsync.sandbox_settings`
groups; core's sandbox server mounts what `build_sandbox` returns at /netdocuments (API) and
/_sandbox/netdocuments (admin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.server import api_root
from billsync_sandboxes.netdocuments.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RATE_LIMIT,
    DEFAULT_REPOSITORY,
    NetDocumentsSandbox,
)


def build_sandbox(
    seed: Mapping[str, Any], *, rate_limit_per_minute: int | None = None, clock: Clock | None = None
) -> NetDocumentsSandbox:
    """A sandbox loaded with seed; the CLI's per-minute figure may raise the limit, never lower it.

    `clock`: the sandbox's clock (the demo's: its month's end, running on); None: the real clock.
    """
    return NetDocumentsSandbox(
        seed,
        rate_limit=max(DEFAULT_RATE_LIMIT, rate_limit_per_minute or 0),
        clock=clock,
    )


def connector_settings(base_url: str) -> dict[str, Any]:
    """The connector settings that point at a sandbox server at base_url (a service account, US).

    The demo month lies in the past, so the first read goes back a year, in month-wide windows
    (the sandbox's row cap is handled by reading on from the newest date).
    """
    return {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "repository_id": DEFAULT_REPOSITORY,
        "region": "us",
        "base_url": api_root(base_url, "netdocuments"),
        "first_read_days": 365,
        "log_window_hours": 24 * 31,
    }


def firm_settings(sandbox: NetDocumentsSandbox, base_url: str) -> dict[str, Any]:
    """What a firm on this sandbox configures (`billsync sandbox --write-config`): an activity source."""
    del sandbox  # every sandbox tenant is reached the same way
    return {"sources": ["netdocuments"], "connectors": {"netdocuments": connector_settings(base_url)}}
