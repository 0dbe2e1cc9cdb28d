"""What a connector offers core, and what core gives a connector. Readable in one sitting.

A connector is a thin adapter over its vendor's plain API client: it lists its streams
explicitly, maps vendor JSON to core models, and (for a PMS) writes entries back.
Core never imports a connector; connectors import only core's public contract (this module,
`core.models`, `core.http`, `core.tokens`, `core.errors`).

Each stream declares its role (StreamRole): core decides what to do with a stream by its role,
never by its name. What a connector may offer beyond the Connector protocol (a rounding setting,
bills billsync may move, OAuth sign-in, ...) is an optional capability: a `@runtime_checkable`
protocol below, checked with isinstance, never by looking a method up by its name. Which
connector offers which is pinned by tests/contract/test_capabilities.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import urlsplit

import structlog
from pydantic import AfterValidator, BaseModel

from core.errors import Fatal
from core.http import HttpClient
from core.models import (
    Activity,
    ActivityCategory,
    BillState,
    Client,
    ClientRateTable,
    Matter,
    RemoteBill,
    RemotePayment,
    TimeEntry,
    Timekeeper,
)
from core.tokens import OAuthToken, Subscription, TokenStore

__all__ = ["OAuthToken", "Subscription"]  # part of the contract, defined beside the secrets they hold

Cursor = Mapping[str, Any] | None
"""A stream's resume point as JSON; None means "from the beginning". Core stores it verbatim.

Every stream also accepts {"updated_since": "<ISO 8601 datetime>"} as a cursor: that is how a
backfill reads the past without touching the stored cursors."""


def vendor_url(value: str) -> str:
    """A vendor API's base URL as a connector's settings name it: checked before any request.

    Absolute, http or https, with a host, and without credentials, a query or a fragment (the
    client appends paths to it, and a password in it would reach logs). Whether plain http is
    acceptable is the connector's to say (a sandbox is served over it).
    """
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("must be an absolute http(s) URL with a host, e.g. https://api.example.com")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError("must not carry credentials, a query or a fragment")
    return value


VendorUrl = Annotated[str, AfterValidator(vendor_url)]
"""A settings field holding a vendor API's base URL (see vendor_url)."""

Record = Activity | Timekeeper | Client | ClientRateTable | Matter | ActivityCategory | RemoteBill | RemotePayment


@dataclass(frozen=True)
class Context:
    """Everything a connector may use, injected: never global."""

    firm: str
    http: HttpClient  # timeouts, the one retry policy, rate limits, redaction
    tokens: TokenStore  # persisted, lock-guarded, encrypted OAuth tokens
    log: structlog.stdlib.BoundLogger


@dataclass(frozen=True)
class Page:
    """Records read in one request, and where to resume after them.

    Core stores the records and the cursor in one transaction, so the cursor never runs ahead
    of the data. A cursor must never move backwards.
    """

    records: Sequence[Record]
    cursor: Cursor
    errors: Sequence[str] = ()  # per-record problems: reported, never a stopped sync


@dataclass(frozen=True)
class RemoteEntry:
    """A time entry as the PMS holds it now (for the review round-trip)."""

    remote_id: str  # the entry's id in the PMS
    idempotency_key: str | None  # billsync's marker, when the entry carries one
    narrative: str
    billed_seconds: int
    matter_id: str
    billable: bool
    deleted: bool = False
    billed: bool = False  # on an issued bill: locked
    # The hourly (or flat) rate the entry carries there now, where the PMS shows it: a price a
    # person typed on the entry, or the one the PMS chose when billsync left it blank.
    rate: Decimal | None = None
    task_code: str | None = None  # the UTBMS task code set on the entry there, if any

    @classmethod
    def gone(cls, remote_id: str) -> RemoteEntry:
        """Entry `remote_id` as a deletion: the PMS answered "not found" for the record itself, so
        nothing else is known of it (a tombstone, never a new entry to write)."""
        return cls(
            remote_id, idempotency_key=None, narrative="", billed_seconds=0, matter_id="", billable=False, deleted=True
        )


@dataclass(frozen=True)
class InboundRequest:
    """A webhook delivery exactly as received: raw body bytes, lower-cased header names."""

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookResult:
    """What a verified delivery asks for: streams to re-poll, an id to dedupe, a handshake reply."""

    streams: Sequence[str] = ()
    delivery_id: str | None = None
    reply_status: int = 200
    reply_headers: Mapping[str, str] = field(default_factory=dict)
    reply_body: bytes = b""


class StreamRole(StrEnum):
    """What a stream's records are to core. Core chooses streams by role, never by their names:
    a stream keeps its vendor's name (the key of its stored cursor and of a webhook's re-poll).

    REFERENCE  people, clients, matters, categories, rates: stored as reference data, and read
               before any activity in every poll, in a backfill (`refresh_reference`) and ahead
               of a webhook's re-poll of other streams, because capture judges activity by them.
    ACTIVITY   work that may become a time entry (calls, e-mails, events, documents): captured
               through the engine after the reference data; a backfill re-reads these from a date.
               Every stream of an activity source (a firm's `sources`) is an activity stream.
    BILLS      bills a person made in the PMS: stored as read-only ledger copies (before activity,
               not in a backfill's refresh); a poll that read any is followed by matching them to
               pre-bills (core.billing.lifecycle), and `billsync bill follow` reads only these.
    PAYMENTS   payments recorded in the PMS: stored as read-only ledger copies, as bills are.
    """

    REFERENCE = "reference"
    ACTIVITY = "activity"
    BILLS = "bills"
    PAYMENTS = "payments"


class ConnectorRole(StrEnum):
    """What a connector can be to a firm (the README's glossary). A firm's settings name one PMS,
    its activity sources and at most one payment gateway, and each must offer the role it is given:
    checked before anything connects (`billsync check-config`, the runtime).

    PMS               writes time entries: `writer()` returns a Writer (Clio, PracticePanther)
    ACTIVITY_SOURCE   has activity streams to capture (a PMS may be one too)
    PAYMENT_GATEWAY   moves money: a core.gateway.GatewayConnector (LawPay)
    """

    PMS = "PMS"
    ACTIVITY_SOURCE = "activity source"
    PAYMENT_GATEWAY = "payment gateway"


class Stream(Protocol):
    """One kind of record read incrementally from a vendor."""

    name: ClassVar[str]  # the vendor's name for the list; the key of the stream's stored cursor
    role: ClassVar[StreamRole]

    def read(self, since: Cursor) -> Iterator[Page]:
        """Pages of records after `since`; re-reading from the last cursor yields nothing new."""
        ...


class WebhookHandler(Protocol):
    """Verifies and interprets deliveries; a delivery is a doorbell that triggers a re-poll."""

    def handle(self, request: InboundRequest, subscription: Subscription | None) -> WebhookResult:
        """Verify (raise InvalidSignature) and parse a delivery."""
        ...

    def ensure(self, callback_url: str, current: Subscription | None) -> Subscription | None:
        """Create or renew the subscription before it expires; None when webhooks are off."""
        ...


class Writer(Protocol):
    """Writes time entries to a PMS, exactly once per idempotency key."""

    def write_time_entry(self, entry: TimeEntry, key: str, *, billable: bool) -> str:
        """Create the entry; returns its id in the PMS. The key is made before the first try."""
        ...

    def update_time_entry(self, remote_id: str, entry: TimeEntry, *, billable: bool) -> None:
        """Change an entry billsync wrote (approval makes it billable)."""
        ...

    def find_time_entry(self, key: str, entry: TimeEntry) -> str | None:
        """Look for an entry written under `key` (recovery after a lost response)."""
        ...

    def read_time_entries(
        self, remote_ids: Sequence[str], *, work_dates: tuple[date, date] | None = None
    ) -> Sequence[RemoteEntry]:
        """The current state of entries billsync wrote, deleted ones included.

        `work_dates` (first, last) bounds the entries' work dates, so a vendor without a read-by-ids
        call can scan one list window for all of them instead of asking for each one."""
        ...


@runtime_checkable
class FindsManyEntries(Protocol):
    """A writer that can look for many entries in one go (optional; core checks with isinstance).

    Before a drain writes entries an earlier store may have written (work older than this store),
    core groups them by matter and asks once per group instead of calling `find_time_entry` for
    each: a vendor that lists by matter and dates answers a group with one paged listing. An entry
    whose write had an unknown outcome is still looked up on its own, right before it is resent.

    Core's promise for each call (core.sync groups; a writer does not group again): `wanted` is
    not empty, every entry in it has the same `matter_id`, and no key appears twice. Nothing else
    is shared: the entries may be any timekeepers' and their work dates any span (a writer lists
    from the earliest to the latest of them). `matter_of_group` reads the matter and refuses a
    call that breaks the promise, since an entry of another matter would go unfound and be
    written twice.
    """

    def find_time_entries(self, wanted: Sequence[tuple[str, TimeEntry]]) -> Mapping[str, str]:
        """Key → remote id for each (key, entry) found, matched exactly as `find_time_entry` matches.

        A key missing from the answer was looked for and not found (so it may be written). A failed
        lookup raises (Retryable, Fatal, AuthFailed) and answers nothing: core then looks for each
        entry on its own. Two entries are never given the same remote entry."""
        ...


def matter_of_group(wanted: Sequence[tuple[str, TimeEntry]]) -> str:
    """The one matter of a `find_time_entries` call; Fatal (core then looks each entry up on its
    own) when the call is empty or mixes matters, against FindsManyEntries' promise."""
    matters = {entry.matter_id for _, entry in wanted}
    if len(matters) != 1:
        raise Fatal(f"a grouped lookup must hold one matter's entries, not {len(matters)} matters'")
    return matters.pop()


@runtime_checkable
class WritePace(Protocol):
    """A writer that can say what its writes cost against the vendor's rate limit (for progress ETAs)."""

    vendor: str  # the vendor's name as people know it, e.g. "Clio"

    def requests_per_minute(self) -> int | None:
        """The vendor's limit as last reported (or documented) for the connected account; None: unknown."""
        ...

    def requests_per_write(self, operation: str, *, unknown_outcome: bool = False) -> int:
        """Requests one outbox write usually takes: "create" or "update"; a lookup first after a lost answer."""
        ...


@runtime_checkable
class OAuthConnector(Protocol):
    """A connector whose account is connected with OAuth 2's authorization-code flow."""

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where to send the person who grants access."""
        ...

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Trade the authorization code for tokens (core stores them encrypted)."""
        ...


class Connector(Protocol):
    """One vendor. `name` equals the folder name and never changes."""

    name: ClassVar[str]
    Settings: ClassVar[type[BaseModel]]  # secrets typed SecretStr
    roles: ClassVar[frozenset[ConnectorRole]]  # what a firm may use it as; the contract suite holds it to them

    def check(self) -> None:
        """Raise AuthFailed or Retryable with a clear message when the vendor cannot be used."""
        ...

    def streams(self) -> Sequence[Stream]:
        """The explicit list of streams this connector reads."""
        ...

    def webhooks(self) -> WebhookHandler | None:
        """The webhook handler, or None for a vendor without webhooks."""
        ...

    def writer(self) -> Writer | None:
        """The writer, for a PMS; None for an activity source."""
        ...


@runtime_checkable
class TimeRounding(Protocol):
    """A PMS that rounds time entries itself (Clio: settings/billing `rounding`)."""

    def time_increment_minutes(self) -> int | None:
        """The smallest whole-minute increment whose multiples the PMS keeps exactly as sent.

        That is its own rounding increment (or a multiple of it, where a further rounding such as
        Clio's hundredths of an hour needs one); None when the PMS does not say. Entries billed in
        this increment are never rounded again by the PMS.
        """
        ...


@runtime_checkable
class RoundingAdvisor(Protocol):
    """A PMS that can say how its own rounding treats the firm's increment (Clio)."""

    def rounding_mismatch(self, increment_minutes: int) -> str | None:
        """A warning sentence when the PMS's rounding differs from `increment_minutes`, else None.

        The sentence says whether the PMS keeps such entries as sent or rounds them again (`billsync
        check` shows it); None also when the PMS does not say. ValueError below one minute."""
        ...


@runtime_checkable
class BillMemoWriter(Protocol):
    """A PMS that can show a note on an issued bill (Clio: the bill's memo)."""

    def set_bill_memo(self, bill_id: str, memo: str) -> None:
        """Replace the memo printed on the bill."""
        ...


# Bills made in the PMS ---------------------------------------------------------------------------
# Neither Clio nor PracticePanther lets an API client create a bill; a person generates it in the
# PMS. What billsync may do is move that bill along its states once it matches the pre-bill.


@runtime_checkable
class BillWriter(Protocol):
    """Changes the states of a PMS's bills (Clio: PATCH /bills/{id} state)."""

    def move_bill(self, bill_id: str, state: BillState) -> BillState:
        """Move a bill to `state` if the PMS offers that transition now; Fatal with the reason if not."""
        ...


@runtime_checkable
class MovesBills(Protocol):
    """A PMS whose bills' states billsync may change: `bills()` is its BillWriter."""

    def bills(self) -> BillWriter:
        """The bill writer (core moves a bill only once it matches its pre-bill)."""
        ...


@runtime_checkable
class PaymentsByHand(Protocol):
    """A PMS whose API cannot record a payment on a bill.

    billsync then lists each payment, refund and trust movement for a person to post in the PMS
    (`billsync pay post-list`) and says why in the vendor's own terms. A class method: the command
    asks the connector's class, without connecting to the vendor.
    """

    @classmethod
    def why_payments_by_hand(cls) -> str:
        """One sentence: what the vendor's API lacks that makes a person post payments."""
        ...
