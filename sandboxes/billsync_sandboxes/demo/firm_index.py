"""What every vendor's demo seed reads off a synthetic firm (billsync_sandboxes.demo.data), whatever the vendor.

A vendor's seed builder subclasses `FirmIndex` for the lookups (who did an activity, which matter
and client a person filing it would pick) and writes the records in its vendor's shapes itself.
The constants are the demo's conventions for people logging time by hand, not any vendor's facts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from billsync_sandboxes.demo.data import SyntheticFirm
from core.models import Activity, Client, Matter, Timekeeper

# Reference data (users, clients, categories) predates the month by this much.
REFERENCE_AGE = timedelta(days=730)
# A hand-made entry is logged a little after the work it covers.
HAND_LOGGING_DELAY = timedelta(minutes=20)
# A person logging time by hand rounds up to the tenth of an hour.
HAND_INCREMENT_SECONDS = 360
# Kinds without a measured length are logged at the default capture length (15 minutes, core.policy).
DEFAULT_ENTRY_SECONDS = 900
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def trailing_number(canonical_id: str) -> int:
    """The number a canonical id ends with ("u7" -> 7); every demo id ends in one."""
    match = _TRAILING_NUMBER.search(canonical_id)
    if match is None:
        raise ValueError(f"canonical id {canonical_id!r} does not end in a number")
    return int(match.group(1))


class FirmIndex:
    """Lookups over one firm as it stands at `now` (time zone required), built once per seed."""

    def __init__(self, firm: SyntheticFirm, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must carry a time zone")
        self.firm = firm
        self.now = now
        self.users_by_actor = {key: tk for tk in firm.timekeepers for key in (tk.id, tk.email, *tk.aliases) if key}
        self.time_recorders = [tk for tk in firm.timekeepers if tk.may_record_time] or list(firm.timekeepers)
        self.clients = {c.id: c for c in firm.clients}
        self.client_by_address = {
            address.lower(): client for client in firm.clients for address in (*client.emails, *client.phones)
        }
        self.matters = {m.id: m for m in firm.matters}
        self.matter_by_number = {m.number: m for m in firm.matters}
        # Longest numbers first, so "0001-0012" is not read as "0001-001".
        self.matter_pattern = (
            re.compile("|".join(re.escape(n) for n in sorted(self.matter_by_number, key=len, reverse=True)))
            if self.matter_by_number
            else None
        )

    def actor(self, activity: Activity) -> Timekeeper:
        """The timekeeper who did the activity; a stranger is an error in the firm's data."""
        tk = self.users_by_actor.get(activity.actor)
        if tk is None:
            raise ValueError(f"activity {activity.external_id}: actor {activity.actor!r} is not a timekeeper")
        return tk

    def recorded_at(self, activity: Activity) -> datetime:
        """When the activity's record is written: when the work ends, but never after `now`."""
        return min(activity.ended_at or activity.started_at, self.now)

    def hand_logged_seconds(self, activity: Activity) -> int:
        """The length a person logging the activity by hand writes down: rounded up to the tenth of an hour."""
        seconds = activity.actual_seconds or DEFAULT_ENTRY_SECONDS
        return max(1, -(-seconds // HAND_INCREMENT_SECONDS)) * HAND_INCREMENT_SECONDS

    def hand_logged_at(self, activity: Activity) -> datetime:
        """When a person logs the activity by hand: a little after its record is written, never after `now`."""
        return min(self.recorded_at(activity) + HAND_LOGGING_DELAY, self.now)

    def matter_of(self, activity: Activity) -> Matter | None:
        """The matter a person logging time by hand would pick: the link, or a number in the title."""
        if activity.matter_id is not None and activity.matter_id in self.matters:
            return self.matters[activity.matter_id]
        if self.matter_pattern is not None:
            found = self.matter_pattern.search(activity.title)
            if found:
                return self.matter_by_number[found.group(0)]
        return None

    def client_of(self, activity: Activity) -> Client | None:
        """The client the activity names, or the first whose e-mail address or phone it involves."""
        if activity.client_id is not None and activity.client_id in self.clients:
            return self.clients[activity.client_id]
        for address in activity.counterpart_addresses:
            client = self.client_by_address.get(address.lower())
            if client is not None:
                return client
        return None
