"""Build the LawPay sandbox for `billsync sandbox` / `billsync demo`, and settings that reach it.

The `lawpay` entry point of `billsync.sandboxes` and `billsync.sandbox_settings`: core's sandbox
server mounts what `build_sandbox` returns at /lawpay (API and hosted pages) and /_sandbox/lawpay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.lawpay.sandbox import TEST_SECRET_KEY, LawPaySandbox

MOUNT_PATH = "/lawpay"


def build_sandbox(seed: Mapping[str, Any], *, rate_limit_per_minute: int | None = None) -> LawPaySandbox:
    """A sandbox loaded with `seed`. LawPay documents no rate limit, so none is applied."""
    del rate_limit_per_minute  # lawpay.md: no documented limit; the sandbox invents none
    return LawPaySandbox(seed)


def connector_settings(base_url: str) -> dict[str, Any]:
    """The connector settings (test mode) that point at a sandbox server at base_url."""
    return {"secret_key": TEST_SECRET_KEY, "mode": "test", "base_url": base_url.rstrip("/") + MOUNT_PATH}
