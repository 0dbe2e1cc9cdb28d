"""Pre-bills in the store: saved whole with their lines, read back as `PreBill`s, linked to PMS bills.

All billing SQL lives here. A pre-bill and its lines are written in one transaction, so a reader
never sees a pre-bill without its lines or with lines that do not add up to its totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from core.billing.model import GuidelineFinding, LineType, PreBill, PreBillLine, PreBillStatus
from core.billing.prebill import History
from core.models import Severity
from core.store.schema_billing import pre_bill_lines, pre_bills

_LIVE = tuple(s.value for s in PreBillStatus if s is not PreBillStatus.VOID)


class BillingStore:
    """Reads and writes pre-bills for any number of firms."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Writing ------------------------------------------------------------------------------------

    def replace_prebills(self, firm: str, remove_ids: Sequence[str], prebills: Sequence[PreBill]) -> None:
        """Delete the pre-bills being rebuilt and insert the new ones, in one transaction."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if remove_ids:
                conn.execute(
                    delete(pre_bill_lines).where(_firm_lines(firm), pre_bill_lines.c.pre_bill_id.in_(remove_ids))
                )
                conn.execute(delete(pre_bills).where(pre_bills.c.firm_id == firm, pre_bills.c.id.in_(remove_ids)))
            for prebill in prebills:
                conn.execute(
                    pre_bills.insert().values(**_prebill_values(firm, prebill), created_at=now, updated_at=now)
                )
                _insert_lines(conn, firm, prebill)

    def approve(self, firm: str, prebill_id: str, when: datetime) -> None:
        """Record the reviewing partner's approval."""
        self._update(firm, prebill_id, approved_at=when)

    def link_bill(
        self,
        firm: str,
        prebill_id: str,
        *,
        bill_id: str,
        number: str | None,
        state: str,
        status: PreBillStatus,
        differences: Sequence[str],
    ) -> None:
        """Record the PMS bill a pre-bill became, its number and state, and how it differs."""
        self._update(
            firm,
            prebill_id,
            pms_bill_id=bill_id,
            pms_bill_number=number,
            pms_state=state,
            status=status.value,
            differences=list(differences),
        )

    def set_pms_state(self, firm: str, prebill_id: str, state: str) -> None:
        """Record a PMS bill state billsync moved the bill to."""
        self._update(firm, prebill_id, pms_state=state)

    def _update(self, firm: str, prebill_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(pre_bills)
                .where(pre_bills.c.firm_id == firm, pre_bills.c.id == prebill_id)
                .values(**values, updated_at=datetime.now(UTC))
            )
            if result.rowcount == 0:
                raise KeyError(f"no pre-bill {prebill_id} for firm {firm}")

    # Reading ------------------------------------------------------------------------------------

    def prebills(
        self, firm: str, *, statuses: Iterable[PreBillStatus] | None = None, period_end: date | None = None
    ) -> list[PreBill]:
        """The firm's pre-bills, by period then number; optionally some statuses or one cycle.

        A cycle is named by the day its period ends (`period_end`): a pre-bill carrying earlier
        unbilled work declares a period that starts before the cycle's month.
        """
        p = pre_bills.c
        query = select(pre_bills).where(p.firm_id == firm).order_by(p.period_end, p.number)
        if statuses is not None:
            query = query.where(p.status.in_([s.value for s in statuses]))
        if period_end is not None:
            query = query.where(p.period_end == period_end)
        with self.engine.connect() as conn:
            heads = [dict(row._mapping) for row in conn.execute(query)]
            return _with_lines(conn, firm, heads)

    def prebill(self, firm: str, key: str) -> PreBill | None:
        """A pre-bill by its id, its number or its PMS bill number."""
        p = pre_bills.c
        query = select(pre_bills).where(p.firm_id == firm, or_(p.id == key, p.number == key, p.pms_bill_number == key))
        with self.engine.connect() as conn:
            heads = [dict(row._mapping) for row in conn.execute(query)]
            found = _with_lines(conn, firm, heads)
        return found[0] if len(found) == 1 else None

    def billed_entry_ids(self, firm: str) -> set[str]:
        """Entries already on a live pre-bill (a void one frees its entries)."""
        line, p = pre_bill_lines.c, pre_bills.c
        query = (
            select(line.entry_id)
            .join(pre_bills, (p.firm_id == line.firm_id) & (p.id == line.pre_bill_id))
            .where(line.firm_id == firm, line.entry_id.is_not(None), p.status.in_(_LIVE))
        )
        with self.engine.connect() as conn:
            return {entry_id for (entry_id,) in conn.execute(query)}

    def history(self, firm: str, matter_id: str, before: date) -> History:
        """What live pre-bills of cycles ended before `before` billed on a matter (its cap, once-only flat fees)."""
        line, p = pre_bill_lines.c, pre_bills.c
        earlier = (p.firm_id == firm) & (p.matter_id == matter_id) & (p.period_end < before) & p.status.in_(_LIVE)
        with self.engine.connect() as conn:
            fees = conn.execute(select(func.sum(p.subtotal)).where(earlier)).scalar()
            flat = conn.execute(
                select(func.count())
                .select_from(pre_bill_lines.join(pre_bills, (p.firm_id == line.firm_id) & (p.id == line.pre_bill_id)))
                .where(earlier, line.classification == "FLTFEE")
            ).scalar()
        return History(fees=fees if fees is not None else Decimal("0.00"), flat_fee_billed=bool(flat))


def _firm_lines(firm: str) -> Any:
    return pre_bill_lines.c.firm_id == firm


def _prebill_values(firm: str, prebill: PreBill) -> dict[str, Any]:
    return {
        "firm_id": firm,
        "id": prebill.id,
        "number": prebill.number,
        "client_id": prebill.client_id,
        "matter_id": prebill.matter_id,
        "period_start": prebill.period_start,
        "period_end": prebill.period_end,
        "invoice_date": prebill.invoice_date,
        "currency": prebill.currency,
        "description": prebill.description[:500],
        "status": prebill.status.value,
        "subtotal": prebill.subtotal,
        "tax": prebill.tax,
        "total": prebill.total,
        "findings": [
            {"rule": f.rule, "severity": f.severity.value, "message": f.message, "line": f.line}
            for f in prebill.findings
        ],
        "approved_at": prebill.approved_at,
        "pms_bill_id": prebill.pms_bill_id,
        "pms_bill_number": prebill.pms_bill_number,
        "pms_state": prebill.pms_state,
        "differences": list(prebill.differences),
    }


def _insert_lines(conn: Connection, firm: str, prebill: PreBill) -> None:
    rows = [
        {
            "firm_id": firm,
            "pre_bill_id": prebill.id,
            "number": ln.number,
            "type": ln.type.value,
            "work_date": ln.work_date,
            "narrative": ln.narrative[:500],
            "units": str(ln.units),
            "unit_cost": ln.unit_cost,
            "adjustment": ln.adjustment,
            "amount": ln.amount,
            "tax_rate": str(ln.tax_rate),
            "tax": ln.tax,
            "timekeeper_id": ln.timekeeper_id,
            "timekeeper_name": ln.timekeeper_name[:200],
            "classification": ln.classification,
            "task_code": ln.task_code,
            "activity_code": ln.activity_code,
            "expense_code": ln.expense_code,
            "entry_id": ln.entry_id,
            "remote_id": ln.remote_id,
            "note": ln.note[:200],
        }
        for ln in prebill.lines
    ]
    if rows:
        conn.execute(pre_bill_lines.insert(), rows)


def _with_lines(conn: Connection, firm: str, heads: list[dict[str, Any]]) -> list[PreBill]:
    if not heads:
        return []
    ids = [head["id"] for head in heads]
    line = pre_bill_lines.c
    lines: dict[str, list[PreBillLine]] = {prebill_id: [] for prebill_id in ids}
    rows = conn.execute(
        select(pre_bill_lines).where(line.firm_id == firm, line.pre_bill_id.in_(ids)).order_by(line.number)
    )
    for row in rows:
        r = row._mapping
        lines[r["pre_bill_id"]].append(
            PreBillLine(
                number=r["number"],
                type=LineType(r["type"]),
                work_date=r["work_date"],
                narrative=r["narrative"],
                units=Decimal(r["units"]),
                unit_cost=r["unit_cost"],
                adjustment=r["adjustment"],
                amount=r["amount"],
                tax_rate=Decimal(r["tax_rate"]),
                tax=r["tax"],
                timekeeper_id=r["timekeeper_id"],
                timekeeper_name=r["timekeeper_name"],
                classification=r["classification"],
                task_code=r["task_code"],
                activity_code=r["activity_code"],
                expense_code=r["expense_code"],
                entry_id=r["entry_id"],
                remote_id=r["remote_id"],
                note=r["note"],
            )
        )
    return [
        PreBill(
            id=h["id"],
            client_id=h["client_id"],
            matter_id=h["matter_id"],
            period_start=h["period_start"],
            period_end=h["period_end"],
            invoice_date=h["invoice_date"],
            number=h["number"],
            currency=h["currency"],
            lines=tuple(lines[h["id"]]),
            findings=tuple(
                GuidelineFinding(f["rule"], Severity(f["severity"]), f["message"], f.get("line")) for f in h["findings"]
            ),
            status=PreBillStatus(h["status"]),
            approved_at=h["approved_at"],
            pms_bill_id=h["pms_bill_id"],
            pms_bill_number=h["pms_bill_number"],
            pms_state=h["pms_state"],
            differences=tuple(h["differences"]),
            description=h["description"],
        )
        for h in heads
    ]
