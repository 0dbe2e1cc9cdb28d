"""Vendor-free building blocks for local stand-ins of vendor APIs."""

from __future__ import annotations

from core.sandbox.clock import Clock, FakeClock, ShiftedClock, SystemClock
from core.sandbox.faults import (
    ConnectionDropped,
    DroppedConnection,
    FaultInjector,
    FaultKind,
    FaultRule,
    TruncatedResponse,
    connection_fault,
)
from core.sandbox.ratelimit import FixedWindowRateLimiter, RateDecision
from core.sandbox.records import (
    Record,
    RecordCollection,
    RecordId,
    RecordNotFound,
    id_sort_key,
    iso_timestamp,
    parse_timestamp,
)
from core.sandbox.requestlog import LoggedRequest, RequestLog, RequestLogMiddleware, note
from core.sandbox.webhooks import (
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
