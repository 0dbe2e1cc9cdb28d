"""A firm's reporting settings: available hours for utilization, the page tokens, the snapshot folder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ReportsSettings(BaseModel):
    """`[firms.<id>.reports]`: what the metrics need that the data cannot tell."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Available hours per working day (Monday to Friday). Clio's dashboard assumes 8 h for every
    # timekeeper (docs/billing-domain.md §7); a part-timer or a partner with a lower target gets their own.
    hours_per_day: Decimal = Field(default=Decimal("8"), gt=0, le=24)
    timekeeper_hours_per_day: dict[str, Decimal] = Field(default_factory=dict)  # timekeeper id -> hours
    # Lockup divides WIP and receivables by the average daily billing over this many days.
    lockup_window_days: int = Field(default=365, ge=1, le=3650)
    # Bearer token for the review pages' actions (approve, reject, assign); it also opens the pages.
    # None: the pages are read-only.
    review_token: SecretStr | None = Field(default=None, min_length=16)
    # A token that opens the firm's dashboard and review pages but allows no action. Without either
    # token nobody can read the firm's pages: they show client names, narratives and amounts.
    read_token: SecretStr | None = Field(default=None, min_length=16)
    # `run_report_snapshot` (nightly in the daemon) writes each period's metrics here as JSON and CSV; None: off.
    snapshot_folder: Path | None = None

    def available_per_day(self, timekeeper_id: str) -> Decimal:
        """The timekeeper's available hours on a working day."""
        return self.timekeeper_hours_per_day.get(timekeeper_id, self.hours_per_day)
