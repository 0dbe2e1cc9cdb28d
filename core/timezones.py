"""Time zone names as vendors send them, turned into zones `zoneinfo` can load.

Vendors name a zone one of three ways: IANA ("America/New_York"); Rails, as Clio's UI shows it
("Eastern Time (US & Canada)"); or Windows ("Eastern Standard Time", from Microsoft products
and vendors built on them). Windows names are looked up in the CLDR table that `tzlocal` ships
and keeps current (`tzlocal.windows_tz`); Rails names in ActiveSupport's own table, vendored in
`core.rails_time_zones` because no Python package carries it. A name none of them knows is the
caller's to report: nothing here raises on a vendor's text.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from core.rails_time_zones import RAILS_TIME_ZONES


@lru_cache(maxsize=1024)  # a firm has few distinct zones; vendor text is bounded by the cache, not trusted
def iana_name(name: str) -> str | None:
    """The IANA name of a zone named the IANA, Rails or Windows way; None when none of them knows it."""
    text = name.strip()
    for candidate in (text, RAILS_TIME_ZONES.get(text), win_tz.get(text)):
        if candidate and _loads(candidate):
            return candidate
    return None


def zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """The zone `name` stands for, or `fallback` when there is no name or no zone by it."""
    found = iana_name(name) if name else None
    return ZoneInfo(found) if found is not None else fallback


def _loads(key: str) -> bool:
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown; not a key ("../x", ""); too long a name
        return False
    return True
