"""Entry narratives made from the activity's kind and its safe title.

Only the title (a subject line, a document or event name) and the counterpart's name are
used. Bodies, transcripts and document text never reach a narrative: they are privileged,
and an invoice is read by people outside the firm.
"""

from __future__ import annotations

import re
from functools import lru_cache

from core.models import Activity, ActivityKind

MAX_NARRATIVE = 250
_SPACES = re.compile(r"\s+")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fw|fwd|aw|sv)\s*:\s*)+", re.IGNORECASE)
# A document source that already says what was done ("Revised: Motion to compel") keeps its words.
_DOCUMENT_ACTION = re.compile(r"^(?:created|drafted|revised|edited|new version|reviewed)\s*:", re.IGNORECASE)


_COMPANY_WORDS = frozenset(
    {
        "LLC",
        "LLP",
        "INC",
        "LTD",
        "CORP",
        "CO",
        "COMPANY",
        "GROUP",
        "HOLDINGS",
        "BANK",
        "TRUST",
        "PARTNERS",
        "ASSOCIATES",
        "FUND",
        "INSURANCE",
        "GMBH",
        "PLC",
        "SA",
        "AG",
        "LP",
    }
)


@lru_cache(maxsize=4096)  # the same counterparts come back all day
def short_name(full_name: str) -> str:
    """'Jane Q. Smith' -> 'J. Smith'; a company, or anything that is not plainly a name, stays whole."""
    parts = full_name.split()
    words = [p.rstrip(",.").upper() for p in parts]
    if not 2 <= len(parts) <= 4 or any(
        w in _COMPANY_WORDS or not w.replace("-", "").replace("'", "").isalpha() for w in words
    ):
        return full_name.strip()
    return f"{parts[0][0].upper()}. {parts[-1]}"


def _without_number(title: str, number: str) -> str:
    """The title with the matter number (and brackets or a colon around it) taken out."""
    lowered, target = title.lower(), number.lower()
    at = lowered.find(target)
    while at >= 0:
        end = at + len(target)
        before_ok = at == 0 or not title[at - 1].isalnum()
        after_ok = end == len(title) or not title[end].isalnum()
        if before_ok and after_ok:
            start = at - 1 if at > 0 and title[at - 1] in "[(" else at
            stop = end + 1 if end < len(title) and title[end] in "])" else end
            stop = stop + 1 if stop < len(title) and title[stop] == ":" else stop
            title, lowered = title[:start] + " " + title[stop:], lowered[:start] + " " + lowered[stop:]
            at = lowered.find(target, start)
        else:
            at = lowered.find(target, at + 1)
    return title


def _clean(title: str, matter_number: str | None) -> str:
    if matter_number:
        # The matter number routed the activity; on the entry it is noise (the entry has a matter).
        title = _without_number(title, matter_number)
    return _REPLY_PREFIX.sub("", _SPACES.sub(" ", title).strip()).strip(" -:")


def narrative_for(activity: Activity, matter_number: str | None = None) -> str:
    """A reviewer-readable description of the work, e.g. 'Telephone call with J. Smith'."""
    title = _clean(activity.title, matter_number)
    who = short_name(activity.counterpart) if activity.counterpart else ""
    with_who = f" with {who}" if who else ""
    match activity.kind:
        case ActivityKind.CALL:
            text = f"Telephone call{with_who}" + (f" re: {title}" if title else "")
        case ActivityKind.SMS:
            text = f"Text message{' to ' + who if who else ''}" + (f" re: {title}" if title else "")
        case ActivityKind.EMAIL:
            text = f"E-mail{' to ' + who if who else ''}" + (f" re: {title}" if title else "")
        case ActivityKind.DOCUMENT:
            text = title if _DOCUMENT_ACTION.match(title) else f"Drafted: {title}" if title else "Drafted document"
        case ActivityKind.NOTE:
            text = f"Prepared note: {title}" if title else "Prepared matter note"
        case ActivityKind.EVENT:
            text = f"Attended: {title}" if title else f"Meeting{with_who}"
        case ActivityKind.TASK:
            text = f"Completed: {title}" if title else "Completed task"
    if len(text) > MAX_NARRATIVE:
        text = text[: MAX_NARRATIVE - 1].rstrip() + "…"
    return text
