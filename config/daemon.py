"""The `[daemon]` section: how often `billsync run` does each job, and how long claims last."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field


class DaemonSettings(BaseModel):
    """Job intervals (seconds) and leases; the defaults suit production."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_seconds: float = Field(default=30, gt=0)  # while webhooks are quiet or off
    poll_with_webhooks_seconds: float = Field(default=120, gt=0)  # the safety net while they deliver
    drain_seconds: float = Field(default=60, gt=0)
    reconcile_at: time = time(2, 0)  # local time, nightly
    # How long a replica owns the outbox rows it claimed. Must be far longer than one write can
    # take (HTTP timeouts x retry attempts): a vendor cannot be fenced, so no replica may still be
    # sending when another one takes a row over and looks the write up.
    claim_lease_seconds: float = Field(default=600, gt=0)
