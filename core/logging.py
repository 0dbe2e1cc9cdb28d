"""Structured logs: JSON when not on a terminal, secrets and privileged text redacted.

Redaction happens in a processor, so no call site has to remember it: any key that names a
secret or a message body is replaced, whatever the value.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SECRET_WORDS = ("token", "secret", "password", "authorization", "api_key", "apikey", "cookie", "signature")
_PRIVILEGED_KEYS = frozenset({"body", "transcript", "content", "contents", "text", "message_body"})


def _is_sensitive(key: str) -> bool:
    lowered = key.lower()
    return lowered in _PRIVILEGED_KEYS or any(word in lowered for word in _SECRET_WORDS)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_sensitive(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace secrets and privileged text wherever they appear by key."""
    for key in list(event_dict):
        if key != "event" and _is_sensitive(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


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
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
