"""Which entries (or parked activities) a person means: one filter for the CLI and the review page.

`billsync review list|approve|reject|parked` and the review page's filter form both build a
`ReviewFilter` from what a person typed and read through `matching_entries` and
`matching_parked`, so the command line and the page cannot disagree about what a filter picks.

A timekeeper is named by id, e-mail or name; a matter by id or number; a client by id or name
(case does not matter; a name two records share is refused as ambiguous). Without an exact
match, a part of a name (not of an id) that only one record's names hold picks that record;
several are refused, naming at most five of them. Dates are work dates,
both ends included. An entry or activity is named by its full id or by a short form: the end
of its id as `short_ids` shows it (the last characters are the random part of a time-ordered
id), or any unique end or start of at least SHORT_ID_MIN characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from core.errors import BillsyncError
from core.matching import ReferenceData
from core.models import PARKED_STATUSES, ActivityStatus, EntryState, TimeEntry
from core.rules import BUILTIN_RULES
from core.store.reports import ActivityRow, ReportStore
from core.store.store import SHORT_ID_MIN, EntryQuery, Store

# The review page's filter fields (query string and bulk forms); the CLI's options carry the same names.
FIELDS = ("timekeeper", "matter", "client", "from", "to", "state", "finding", "clean")
# What `review list` shows when no state is named: what waits for a person.
WAITING = (EntryState.NEEDS_REVIEW, EntryState.BLOCKED)
_AMBIGUOUS_SHOWN = 5  # names listed when a part of a name fits several records
_NAME_SHOWN = 60  # characters of each
SHORT_ID_SHOWN = 7  # characters of an id's end shown, more where two ids share them
_HEX = re.compile(r"[0-9a-f]+")
_Item = TypeVar("_Item")


@dataclass(frozen=True)
class ReviewFilter:
    """What a person asked for; every field narrows, None (or empty) does not."""

    timekeeper: str | None = None  # id, e-mail or name
    matter: str | None = None  # id or number
    client: str | None = None  # id or name
    first_day: date | None = None  # work date on or after
    last_day: date | None = None  # work date on or before
    states: tuple[EntryState, ...] = ()  # none named: WAITING
    finding: str | None = None  # rule name: entries with a finding of it
    clean: bool = False  # entries with no finding at all
    parked_statuses: tuple[ActivityStatus, ...] = field(default=())  # for parked activities; none: all

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> ReviewFilter:
        """The filter of a form or query string (the review page): the fields FIELDS names, blank = unset."""
        given = {name: fields.get(name, "").strip() for name in FIELDS}
        try:
            states = (EntryState(given["state"]),) if given["state"] else ()
        except ValueError:
            raise BillsyncError(f"no entry state {given['state']!r}") from None
        return cls(
            timekeeper=given["timekeeper"] or None,
            matter=given["matter"] or None,
            client=given["client"] or None,
            first_day=parse_day(given["from"], "from"),
            last_day=parse_day(given["to"], "to"),
            states=states,
            finding=given["finding"] or None,
            clean=given["clean"] in ("1", "on", "true"),
        )

    def fields(self) -> dict[str, str]:
        """The filter as FIELDS (for a form's inputs and a link back to the same list); unset ones left out."""
        values = {
            "timekeeper": self.timekeeper or "",
            "matter": self.matter or "",
            "client": self.client or "",
            "from": self.first_day.isoformat() if self.first_day else "",
            "to": self.last_day.isoformat() if self.last_day else "",
            "state": self.states[0].value if len(self.states) == 1 else "",
            "finding": self.finding or "",
            "clean": "1" if self.clean else "",
        }
        return {name: value for name, value in values.items() if value}

    @property
    def narrows(self) -> bool:
        """A bulk action may run: the person chose which entries, beyond their state."""
        chosen = (self.timekeeper, self.matter, self.client, self.first_day, self.last_day, self.finding)
        return self.clean or any(value not in (None, "") for value in chosen)

    def describe(self) -> str:
        """The filter in words, for what a bulk action says it did ("of ava@…, matter 1001")."""
        parts = []
        if self.timekeeper:
            parts.append(f"of {self.timekeeper}")
        if self.matter:
            parts.append(f"on matter {self.matter}")
        if self.client:
            parts.append(f"for client {self.client}")
        if self.first_day or self.last_day:
            parts.append(f"dated {self.first_day or '…'} to {self.last_day or '…'}")
        if self.finding:
            parts.append(f"with finding {self.finding}")
        if self.clean:
            parts.append("with no findings")
        return " ".join(parts)

    def query(self, reference: ReferenceData, *, states: Sequence[EntryState] | None = None) -> EntryQuery:
        """The store query: names turned into ids (an unknown name is a BillsyncError)."""
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise BillsyncError(f"from {self.first_day} is after to {self.last_day}: no work date is both")
        rules = sorted(rule.name for rule in BUILTIN_RULES)
        if self.finding and self.finding not in rules:
            raise BillsyncError(f"no rule {self.finding[:80]!r} (the rules: {', '.join(rules)})")
        return EntryQuery(
            states=tuple(states if states is not None else (self.states or WAITING)),
            timekeeper_ids=_one(self.timekeeper, "timekeeper", "id, e-mail or name", _timekeepers(reference)),
            matter_ids=_one(self.matter, "matter", "id or number", _matters(reference)),
            client_ids=_one(self.client, "client", "id or name", _clients(reference)),
            first_day=self.first_day,
            last_day=self.last_day,
            finding=self.finding or None,
            clean=self.clean,
        )


def parse_day(typed: str, label: str) -> date | None:
    """A work date as typed (YYYY-MM-DD); blank: None; else one error line naming `label`."""
    typed = typed.strip()
    if not typed:
        return None
    try:
        return date.fromisoformat(typed)
    except ValueError:
        raise BillsyncError(f"{label} {typed[:40]!r} is not a date (YYYY-MM-DD)") from None


def matching_entries(
    store: Store, firm: str, wanted: ReviewFilter, *, states: Sequence[EntryState] | None = None
) -> list[TimeEntry]:
    """The firm's entries the filter picks, oldest first (`states` overrides the filter's)."""
    return store.find_entries(firm, wanted.query(store.load_reference(firm), states=states))


def matching_parked(store: Store, firm: str, wanted: ReviewFilter) -> list[ActivityRow]:
    """The firm's parked activities the filter picks (timekeeper, matter, client, dates), oldest first.

    A parked activity has no entry, so state, finding and clean do not apply; a matter or client
    filter keeps only activities that know their matter: the one capture found, or else the one
    the activity itself names (parked because that matter is closed, capture keeps no matter).
    """
    reference = store.load_reference(firm)
    query = wanted.query(reference)
    statuses = set(wanted.parked_statuses or PARKED_STATUSES)
    picked = []
    for row in ReportStore(store.engine).activity_rows(firm, statuses):
        if query.timekeeper_ids is not None and not _actor_is(row, query.timekeeper_ids, reference):
            continue
        matter_id = row.matter_id
        if matter_id is None and (query.matter_ids is not None or query.client_ids is not None):
            stored = store.stored_activity(firm, row.id)
            matter_id = stored.activity.matter_id if stored is not None else None
        if query.matter_ids is not None and matter_id not in query.matter_ids:
            continue
        if query.client_ids is not None:
            matter = reference.matters.get(matter_id or "")
            if matter is None or matter.client_id not in query.client_ids:
                continue
        day = row.started_at.date()
        if (query.first_day and day < query.first_day) or (query.last_day and day > query.last_day):
            continue
        picked.append(row)
    return picked


def resolve_id(store: Store, firm: str, typed: str, *, kind: str = "entry") -> str:
    """The full id of the entry (or activity, `kind` "activity") a person typed; one error line if none."""
    wanted = typed.strip().lower()
    found = store.ids_like(firm, kind, wanted) if len(wanted) >= SHORT_ID_MIN and _HEX.fullmatch(wanted) else []
    if not found:
        raise BillsyncError(f"no such {kind}: {typed}")
    if len(found) > 1:
        raise BillsyncError(f"{typed} names more than one {kind}: type more of its id")
    return found[0]


def short_ids(store: Store, firm: str, ids: Iterable[str], *, kind: str = "entry") -> dict[str, str]:
    """The shortest end of each id, at least SHORT_ID_SHOWN characters, that no other id of the firm shares."""
    wanted = set(ids)
    if not wanted:
        return {}
    ends = sorted(i[::-1] for i in store.all_ids(firm, kind))  # reversed: neighbours share the longest ends
    shown: dict[str, str] = {}
    for index, reversed_id in enumerate(ends):
        full = reversed_id[::-1]
        if full not in wanted:
            continue
        shared = max(
            (_common(reversed_id, ends[other]) for other in (index - 1, index + 1) if 0 <= other < len(ends)),
            default=0,
        )
        length = max(SHORT_ID_SHOWN, shared + 1)
        shown[full] = full[-length:]
    return shown


def _common(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def _actor_is(row: ActivityRow, timekeeper_ids: tuple[str, ...], reference: ReferenceData) -> bool:
    if row.timekeeper_id is not None:
        return row.timekeeper_id in timekeeper_ids
    known = reference.timekeeper_for(row.actor)
    return known is not None and known.id in timekeeper_ids


def _timekeepers(reference: ReferenceData) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.id, (t.id, t.email or "", t.name)) for t in reference.timekeepers.values()]


def _matters(reference: ReferenceData) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.id, (m.id, m.number)) for m in reference.matters.values()]


def _clients(reference: ReferenceData) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.id, (c.id, c.name)) for c in reference.clients.values()]


def _one(typed: str | None, what: str, how: str, records: list[tuple[str, tuple[str, ...]]]) -> tuple[str, ...] | None:
    """The one record whose id (first) or other name matches `typed`, case aside; None: no filter."""
    if typed is None or not typed.strip():
        return None
    wanted = typed.strip().casefold()
    by_id = [record_id for record_id, _ in records if record_id.casefold() == wanted]
    if by_id:
        return (by_id[0],)
    named = sorted({record_id for record_id, names in records if any(n and n.casefold() == wanted for n in names)})
    if len(named) > 1:
        raise BillsyncError(f"{len(named)} {what}s are called {typed.strip()!r}: give the id of one")
    if named:
        return (named[0],)
    # No exact name: a part of one ("harbor" for Harbor Insurance), if only one record has it.
    partly = {
        record_id: _label(names) for record_id, names in records if any(wanted in n.casefold() for n in names[1:])
    }
    if not partly:
        raise BillsyncError(f"no {what} {typed.strip()!r} (give its {how})")
    if len(partly) > 1:
        shown = sorted(partly.values())
        listed = ", ".join(repr(name) for name in shown[:_AMBIGUOUS_SHOWN])
        more = f" and {len(shown) - _AMBIGUOUS_SHOWN} more" if len(shown) > _AMBIGUOUS_SHOWN else ""
        raise BillsyncError(f"{len(partly)} {what}s match {typed.strip()!r}: {listed}{more}; type more of one")
    return (next(iter(partly)),)


def _label(names: tuple[str, ...]) -> str:
    """A record's last non-empty name (the person's or client's name, a matter's number), cut for a message."""
    name = next((n for n in reversed(names) if n), names[0])
    return name if len(name) <= _NAME_SHOWN else name[: _NAME_SHOWN - 1] + "…"


def page(items: Sequence[_Item], *, limit: int, offset: int) -> list[_Item]:
    """One page of `items`."""
    if limit < 1 or offset < 0:
        raise BillsyncError("--limit must be at least 1 and --offset at least 0")
    return list(items[offset : offset + limit])


def total_line(shown: int, total: int, offset: int, noun: str) -> str:
    """ "showing 1-50 of 206 entries" ("showing 1 of 1 entry"), and how to see more."""
    if total == 0:
        return f"no {noun}"
    if shown == 0:
        return f"none of {total} {_singular(noun) if total == 1 else noun} at offset {offset}"
    more = f"; --offset {offset + shown} for the next" if offset + shown < total else ""
    which = f"{offset + 1}" if shown == 1 else f"{offset + 1}-{offset + shown}"
    return f"showing {which} of {total} {_singular(noun) if total == 1 else noun}{more}"


def _singular(noun: str) -> str:
    """ "entries" -> "entry", "parked activities" -> "parked activity"."""
    return noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")
