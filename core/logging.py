"""Structured logs: JSON when not on a terminal, secrets and privileged text redacted.

Redaction happens in a processor, so no call site has to remember it: any key that names a
secret or a message body is replaced, whatever the value. Free text is scrubbed too: an
exception message or an f-string may quote a URL with `access_token=...`, a `Bearer ...`
header or a webhook secret, so those patterns are cut out of every string that is logged.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, TextIO, cast
from uuid import UUID

import structlog

REDACTED = "[redacted]"
_SECRET_WORDS = (
    "token",
    "secret",
    "password",
    "authorization",
    "api_key",
    "apikey",
    "cookie",
    "signature",
    "credential",
    "fernet",
    "private_key",
    "encryption_key",
)
_PRIVILEGED_KEYS = frozenset({"body", "transcript", "content", "contents", "text", "message_body"})
# Values whose rendering never carries free text; anything else is scrubbed through its repr.
_PLAIN = (int, float, bool, type(None), datetime, date, time, timedelta, Decimal, UUID, Enum, PurePath)

# `name=value` or `"name": "value"` where the name says secret; JSON quoted inside a string
# arrives with escaped quotes, hence the optional backslashes.
_NAMED_SECRET = re.compile(
    r"""(?P<name>(?<![\w-])(?:[\w-]*(?:token|secret|password|passwd|api_?key|signature|credential)[\w-]*|code|key|sig))"""
    r"""(?P<sep>\\?["']?\s*[:=]\s*\\?["']?)"""
    r"""(?!\[redacted\])[A-Za-z0-9._~+/=%-]+""",
    re.IGNORECASE,
)
# A header quoted in an error: the whole credential goes, whatever its scheme.
_AUTH_HEADER = re.compile(
    r"""(?P<name>\b(?:proxy-)?authorization)(?P<sep>\\?["']?\s*[:=]\s*\\?["']?)"""
    r"""(?:(?:Basic|Bearer|Token|Digest)\s+)?(?!\[redacted\])[A-Za-z0-9._~+/=-]+""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\bBearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_WEBHOOK_SECRET = re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+")


def _is_sensitive(key: str) -> bool:
    lowered = key.lower()
    return lowered in _PRIVILEGED_KEYS or any(word in lowered for word in _SECRET_WORDS)


def scrub_text(text: str) -> str:
    """Cut secret-looking patterns (query parameters, auth headers, webhook secrets) out of free text."""
    scrubbed = _AUTH_HEADER.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
    scrubbed = _BEARER.sub(f"Bearer {REDACTED}", scrubbed)
    scrubbed = _WEBHOOK_SECRET.sub(REDACTED, scrubbed)
    return _NAMED_SECRET.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", scrubbed)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        scrubbed = scrub_text(value)
        return value if scrubbed == value else scrubbed  # keeps str subclasses (enums) when clean
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _is_sensitive(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        # A named tuple: its field names are keys like any other.
        return {k: REDACTED if _is_sensitive(k) else _scrub(v) for k, v in zip(value._fields, value, strict=True)}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    # Anything else would be rendered through its repr (an exception's repr holds its message).
    return scrub_text(repr(value))


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace secrets and privileged text by key, and secret patterns in any text."""
    for key in list(event_dict):
        if key != "event" and _is_sensitive(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


class _CurrentStderr:
    """sys.stderr as it is at each write, not as it was at configuration.

    While a progress bar is drawn on a terminal (core.progress.BarProgress), rich swaps
    sys.stderr for a proxy that prints each line above the bar; a logger holding the original
    stream would write into the middle of the bar."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", stream: TextIO | None = None, json: bool | None = None) -> None:
    """Set up structlog once per process: JSON off a terminal, readable lines on one."""
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Tracebacks become text before redaction: they quote exception messages.
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
