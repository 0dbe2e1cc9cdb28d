"""Who did an activity and which matter it belongs to.

Matter resolution tries, in order: the source's explicit matter link; a matter number or
client-matter code in the title or workspace; contact rules (e-mail, domain, phone) that name
a client or a matter; the client's most recently updated open matter (a suggestion, routed to
review); otherwise the activity waits in the unassigned queue with the reason. Closed matters
never receive new entries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from core.models import Activity, ActivityCategory, Client, Matter, MatterStatus, Timekeeper
from core.policy import CapturePolicy, ContactRule

# Candidate matter numbers: runs of letters and digits joined by - . / _ with at least one digit.
_CODE_TOKEN = re.compile(r"(?<![A-Za-z0-9._/-])[A-Za-z0-9._/-]*[0-9][A-Za-z0-9._/-]*")
_EDGE_PUNCTUATION = "._/-"


def normalize_phone(number: str) -> str:
    """Compare phone numbers by their last ten digits, so +1 (555) 010-2000 == 5550102000."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[-10:]


def _domain(address: str) -> str | None:
    _, at, domain = address.rpartition("@")
    return domain.lower() if at else None


@dataclass(frozen=True, slots=True)
class MatterMatch:
    """The outcome of matter resolution."""

    matter: Matter | None
    method: str  # link, code, contact, recent, none
    suggested: bool = False
    reason: str = ""


class ReferenceData:
    """The firm's timekeepers, clients, matters and categories, indexed for capture."""

    def __init__(
        self,
        timekeepers: Iterable[Timekeeper],
        clients: Iterable[Client],
        matters: Iterable[Matter],
        categories: Iterable[ActivityCategory] = (),
    ) -> None:
        self.timekeepers = {tk.id: tk for tk in timekeepers}
        self.clients = {c.id: c for c in clients}
        self.matters = {m.id: m for m in matters}
        self.categories = {c.id: c for c in categories}
        self._actors: dict[str, Timekeeper] = {}
        for tk in self.timekeepers.values():
            for name in (tk.id, tk.email, *tk.aliases):
                if name:
                    self._actors[name.lower()] = tk
        self._by_code: dict[str, Matter] = {m.number.upper(): m for m in self.matters.values()}
        self._recent_open: dict[str, Matter] = {}
        for m in sorted(self.matters.values(), key=lambda m: m.updated_at):
            if m.status is not MatterStatus.CLOSED:
                self._recent_open[m.client_id] = m  # the last one wins: most recently updated
        self._client_by_email: dict[str, str] = {}
        self._client_by_domain: dict[str, str] = {}
        self._client_by_phone: dict[str, str] = {}
        for c in self.clients.values():
            for email in c.emails:
                self._client_by_email[email.lower()] = c.id
            for domain in c.domains:
                self._client_by_domain[domain.lower()] = c.id
            for phone in c.phones:
                self._client_by_phone[normalize_phone(phone)] = c.id

    @cached_property
    def digest(self) -> str:
        """A digest of the timekeepers, clients and matters: what identity and matter resolution depend on."""
        found = hashlib.sha256()
        for records in (self.timekeepers, self.clients, self.matters):
            for key in sorted(records):
                found.update(records[key].model_dump_json().encode())
        return found.hexdigest()

    def timekeeper_for(self, actor: str) -> Timekeeper | None:
        """The timekeeper an actor id or e-mail address belongs to."""
        return self._actors.get(actor.lower())

    def matters_in_text(self, text: str) -> set[str]:
        """Ids of the matters whose number appears in a title or workspace name."""
        found: set[str] = set()
        for token in _CODE_TOKEN.findall(text):
            # "1001/0042" may be a code; "Clients/Harbor/1001-0042" is a path holding one.
            for candidate in (token, *token.split("/")):
                matter = self._by_code.get(candidate.strip(_EDGE_PUNCTUATION).upper())
                if matter is not None:
                    found.add(matter.id)
                    break
        return found

    def recent_open_matter(self, client_id: str) -> Matter | None:
        """The client's most recently updated matter that is not closed."""
        return self._recent_open.get(client_id)

    def client_for_address(self, address: str) -> str | None:
        """The client a counterpart's e-mail address, domain or phone number belongs to."""
        lowered = address.strip().lower()
        if lowered in self._client_by_email:
            return self._client_by_email[lowered]
        domain = _domain(lowered)
        if domain is not None:
            return self._client_by_domain.get(domain)
        phone = normalize_phone(lowered)
        return self._client_by_phone.get(phone) if phone else None


class MatterResolver:
    """Applies the firm's resolution order to one activity at a time."""

    def __init__(self, reference: ReferenceData, policy: CapturePolicy) -> None:
        self._reference = reference
        self._suggest = policy.suggest_recent_matter
        self._rules: dict[tuple[str, str], ContactRule] = {}
        for rule in policy.contact_rules:
            value = normalize_phone(rule.value) if rule.match == "phone" else rule.value.lower()
            self._rules[(rule.match, value)] = rule

    def resolve(self, activity: Activity) -> MatterMatch:
        """Find the activity's matter, or say why there is none."""
        reference = self._reference
        if activity.matter_id is not None and activity.matter_id in reference.matters:
            return self._open_or_unassigned(reference.matters[activity.matter_id], "link")

        for where, text in (("title", activity.title), ("workspace", activity.workspace or "")):
            ids = reference.matters_in_text(text)
            if len(ids) == 1:
                return self._open_or_unassigned(reference.matters[ids.pop()], "code")
            if len(ids) > 1:
                return MatterMatch(None, "none", reason=f"several matter numbers in the {where}")

        client_ids: set[str] = set()
        if activity.client_id is not None and activity.client_id in reference.clients:
            client_ids.add(activity.client_id)
        for address in activity.counterpart_addresses:
            rule = self._contact_rule(address)
            if rule is not None and rule.matter_id is not None and rule.matter_id in reference.matters:
                return self._open_or_unassigned(reference.matters[rule.matter_id], "contact")
            client_id = rule.client_id if rule is not None else reference.client_for_address(address)
            if client_id is not None:
                client_ids.add(client_id)
        if len(client_ids) > 1:
            return MatterMatch(None, "none", reason="counterparts belong to several clients")
        if not client_ids:
            if activity.workspace:
                # A source named where the work belongs (a DMS workspace, a profile's client and
                # matter), and no matter has that number: say which, so someone can map it.
                return MatterMatch(None, "none", reason=f"workspace {activity.workspace!r} names no known matter")
            return MatterMatch(None, "none", reason="no matter link, matter number or known contact")

        client_id = client_ids.pop()
        if not self._suggest:
            return MatterMatch(None, "none", reason=f"client {client_id} known, matter not")
        recent = reference.recent_open_matter(client_id)
        if recent is None:
            return MatterMatch(None, "none", reason=f"client {client_id} has no open matter")
        return MatterMatch(recent, "recent", suggested=True)

    def _contact_rule(self, address: str) -> ContactRule | None:
        lowered = address.strip().lower()
        domain = _domain(lowered)
        phone = normalize_phone(lowered) if domain is None else ""
        return (
            self._rules.get(("email", lowered))
            or (self._rules.get(("domain", domain)) if domain else None)
            or (self._rules.get(("phone", phone)) if phone else None)
        )

    @staticmethod
    def _open_or_unassigned(matter: Matter, method: str) -> MatterMatch:
        if matter.status is MatterStatus.CLOSED:
            return MatterMatch(None, "none", reason=f"matter {matter.number} is closed")
        return MatterMatch(matter, method)
