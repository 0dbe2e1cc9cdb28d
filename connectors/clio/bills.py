"""Moves a Clio bill along its states: PATCH /bills/{id} with `state` (docs/vendors/clio.md §3.13).

Clio has no bill creation through the API; a person generates the bill. billsync only moves one
that matches its pre-bill, and only to a state the bill's `available_state_transitions` offers at
that moment, read just before the PATCH, which carries the bill's ETag (If-Match) so a change made
meanwhile by a person gives 412 instead of being overwritten.
"""

from __future__ import annotations

import structlog

from connectors.clio.client import ClioClient
from core.errors import Fatal
from core.logging import per_record
from core.models import BillState

BILL_FIELDS = "id,etag,state,available_state_transitions"


class ClioBills:
    """core.connector.BillWriter for Clio."""

    def __init__(self, client: ClioClient, *, log: structlog.stdlib.BoundLogger | None = None) -> None:
        self._client = client
        self._log = log

    def move_bill(self, bill_id: str, state: BillState) -> BillState:
        """Move the bill to `state` if Clio offers that transition now; Fatal with the reason if not."""
        if not bill_id.isdigit():
            raise Fatal(f"{bill_id!r} is not a Clio bill id")
        path = f"bills/{bill_id}"
        current = self._client.get(path, fields=BILL_FIELDS)
        if current is None:  # no etag was sent, so a 304 cannot happen
            raise Fatal(f"GET {path}: unexpected 304")
        offered = current.get("available_state_transitions")
        offered = [str(s) for s in offered] if isinstance(offered, list) else []
        if current.get("state") == state.value:
            return state
        if state.value not in offered:
            raise Fatal(
                f"Clio bill {bill_id} is {current.get('state')} and offers "
                f"{', '.join(offered) or 'no state change'}, not {state.value}"
            )
        etag = current.get("etag") if isinstance(current.get("etag"), str) else None
        moved = self._client.update(path, {"state": state.value}, fields=BILL_FIELDS, if_match=etag)
        if self._log is not None:
            # Counted in the "pms bills followed" summary (moved=...); the detail is DEBUG.
            per_record(self._log, "clio bill moved", reason=f"to {state.value}", bill=bill_id)
        try:
            return BillState(str(moved.get("state")))
        except ValueError:
            raise Fatal(f"Clio answered the move of bill {bill_id} with an unknown state") from None

    def set_bill_memo(self, bill_id: str, memo: str) -> None:
        """Replace the memo printed on the bill (docs/vendors/clio.md §3.13: `memo` is a PATCH field), If-Match its
        ETag."""
        if not bill_id.isdigit():
            raise Fatal(f"{bill_id!r} is not a Clio bill id")
        path = f"bills/{bill_id}"
        current = self._client.get(path, fields=BILL_FIELDS)
        if current is None:
            raise Fatal(f"GET {path}: unexpected 304")
        etag = current.get("etag") if isinstance(current.get("etag"), str) else None
        self._client.update(path, {"memo": memo}, fields=BILL_FIELDS, if_match=etag)
        if self._log is not None:
            self._log.info("clio bill memo written", bill=bill_id)  # never the memo: it holds a payment link
