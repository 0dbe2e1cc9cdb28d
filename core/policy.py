"""A firm's capture policy and billing-rule configuration, as the engine consumes it.

`config/settings.py` loads these from the firm's TOML file and the environment; the engine
never reads files or the environment itself.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.models import ActivityKind, Severity
from core.timezones import iana_name
from core.units import billed_seconds, hours


class Strict(BaseModel):
    """Configuration models reject unknown keys, so a typo in the TOML file is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewMode(enum.StrEnum):
    """Which captured entries wait for a person before they become billable."""

    ALL = "all"  # every entry (the default: nothing is billable until approved)
    FLAGGED = "flagged"  # only entries with a Review finding or a suggested matter
    NONE = "none"  # entries without findings are approved at once


class KindPolicy(Strict):
    """Whether and how one kind of activity becomes time."""

    enabled: bool = True
    duration: Literal["fixed", "actual"] = "fixed"
    minutes: int = Field(default=15, ge=0, le=24 * 60)
    category_id: str | None = None  # activity category used for rating and the PMS
    activity_code: str | None = None  # UTBMS A-code; None means the built-in default


def _default_kinds() -> dict[ActivityKind, KindPolicy]:
    # Calls and meetings have a real length worth keeping; the rest are fixed blocks.
    actual = {ActivityKind.CALL, ActivityKind.EVENT}
    return {kind: KindPolicy(duration="actual" if kind in actual else "fixed") for kind in ActivityKind}


class ContactRule(Strict):
    """Routes activity with a counterpart address to a client (and optionally one matter)."""

    match: Literal["email", "domain", "phone"]
    value: str = Field(min_length=1)
    client_id: str
    matter_id: str | None = None


DEFAULT_INCREMENT_MINUTES = 6  # a tenth of an hour: for a PMS without a rounding setting


class CapturePolicy(Strict):
    """What turns activity into entries, for one firm.

    The billing increment in effect is `increment_minutes` when the firm sets it, else the PMS's own
    time rounding (Clio's settings/billing `rounding`), else 6 minutes. Each entry
    is rounded up to it once, by billsync; because the default is the PMS's own increment, the
    PMS's rounding finds a whole number of its increments and leaves the entry as sent.
    """

    enabled: bool = False  # a firm opts in explicitly
    increment_minutes: int | None = Field(default=None, ge=1, le=60)  # None: the PMS's own
    review: ReviewMode = ReviewMode.ALL
    timekeepers: Literal["all"] | list[str] = "all"  # or an explicit allow-list of ids
    kinds: dict[ActivityKind, KindPolicy] = Field(default_factory=_default_kinds)
    suggest_recent_matter: bool = True
    contact_rules: list[ContactRule] = Field(default_factory=list)
    store_raw_payload: bool = False
    # The firm's zone: work dates of users whose own zone the PMS does not give (or
    # gives by a name no table knows) fall in it. IANA, Rails or Windows names; stored as IANA.
    time_zone: str = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        found = iana_name(value)
        if found is None:
            raise ValueError(f"{value!r} is not a time zone name (IANA such as America/New_York, Rails or Windows)")
        return found

    @field_validator("kinds", mode="before")
    @classmethod
    def _fill_kinds(cls, value: object) -> object:
        # A firm that configures only `sms` keeps the defaults for every other kind.
        if isinstance(value, dict):
            merged: dict[Any, Any] = dict(_default_kinds())
            merged.update(value)
            return merged
        return value

    def kind(self, kind: ActivityKind) -> KindPolicy:
        """The policy for one kind of activity."""
        return self.kinds[kind]

    def increment(self, pms_minutes: int | None = None) -> int:
        """The increment in effect, in minutes: the firm's own, else its PMS's, else 6."""
        if self.increment_minutes is not None:
            return self.increment_minutes
        if pms_minutes is not None and pms_minutes >= 1:
            return pms_minutes
        return DEFAULT_INCREMENT_MINUTES

    def uneven_blocks(self, increment_minutes: int) -> list[str]:
        """One sentence per enabled fixed block that is not a whole number of increments.

        Such a block is rounded up like any other duration, so the firm bills more than the block
        it configured; the sentence names what it will bill.
        """
        found = []
        for kind, policy in self.kinds.items():
            if not policy.enabled or policy.minutes % increment_minutes == 0:
                continue
            billed = billed_seconds(policy.minutes * 60, increment_minutes * 60)
            # An "actual" kind falls back to its block when the vendor gives no length (a Clio call).
            when = " (when the activity has no length of its own)" if policy.duration == "actual" else ""
            found.append(
                f"capture.kinds.{kind.value}: {policy.minutes} minutes{when} is not a whole number of "
                f"{increment_minutes}-minute increments: it will bill {billed // 60} minutes ({_hours_text(billed)} h)"
            )
        return found


def _hours_text(seconds: int) -> str:
    """Hours as a person writes them: 0.3, 0.25, 1; four places when they do not end sooner."""
    exact = hours(seconds)
    shown = exact.quantize(Decimal("0.0001"))
    return f"{exact.normalize():f}" if shown == exact else f"{shown}"


class RuleConfig(Strict):
    """One rule's severity and parameters at one level; unset fields inherit from the level above."""

    severity: Severity | None = None
    minutes: int | None = Field(default=None, ge=1)  # increment: the client's billing increment
    hours: Decimal | None = Field(default=None, gt=0)  # max hours per entry or per day
    words: list[str] | None = None  # vague words


class RuleSets(Strict):
    """Rule sets at three levels; the most specific level that sets a field wins."""

    firm: dict[str, RuleConfig] = Field(default_factory=dict)
    clients: dict[str, dict[str, RuleConfig]] = Field(default_factory=dict)
    matters: dict[str, dict[str, RuleConfig]] = Field(default_factory=dict)

    def resolve(self, rule: str, client_id: str, matter_id: str, default: RuleConfig) -> RuleConfig:
        """The rule's effective configuration: default < firm < client < matter, field by field."""
        merged = default.model_dump()
        for level in (
            self.firm.get(rule),
            self.clients.get(client_id, {}).get(rule),
            self.matters.get(matter_id, {}).get(rule),
        ):
            if level is not None:
                merged.update(level.model_dump(exclude_none=True))
        return RuleConfig(**merged)


DEFAULT_HOURS_PER_ENTRY = Decimal("24")
DEFAULT_HOURS_PER_DAY = Decimal("12")
