"""The sandbox kit: vendor-free building blocks of every vendor's sandbox."""

from __future__ import annotations

from billsync_sandboxes.kit.clock import Clock, FakeClock, ShiftedClock, SystemClock
from billsync_sandboxes.kit.faults import (
    ConnectionDropped,
    DroppedConnection,
    FaultInjector,
    FaultKind,
    FaultRule,
    TruncatedResponse,
    connection_fault,
)
from billsync_sandboxes.kit.ratelimit import FixedWindowRateLimiter, RateDecision
from billsync_sandboxes.kit.records import (
    Record,
    RecordCollection,
    RecordId,
    RecordNotFound,
    id_sort_key,
    iso_timestamp,
    parse_timestamp,
)
from billsync_sandboxes.kit.requestlog import LoggedRequest, RequestLog, RequestLogMiddleware, note
from billsync_sandboxes.kit.webhooks import (
    Deliver,
    DeliveryResult,
    deliver_with,
    hmac_sha256_hex,
    http_deliver,
)

__all__ = [
    "Clock",
    "ConnectionDropped",
    "Deliver",
    "DeliveryResult",
    "DroppedConnection",
    "FakeClock",
    "FaultInjector",
    "FaultKind",
    "FaultRule",
    "FixedWindowRateLimiter",
    "LoggedRequest",
    "RateDecision",
    "Record",
    "RecordCollection",
    "RecordId",
    "RecordNotFound",
    "RequestLog",
    "RequestLogMiddleware",
    "ShiftedClock",
    "SystemClock",
    "TruncatedResponse",
    "connection_fault",
    "deliver_with",
    "hmac_sha256_hex",
    "http_deliver",
    "id_sort_key",
    "iso_timestamp",
    "note",
    "parse_timestamp",
]
