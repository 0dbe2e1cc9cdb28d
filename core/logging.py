"""Structured logs: JSON when not on a terminal, secrets and privileged text redacted.

Redaction happens in a processor, so no call site has to remember it: any key that names a
secret or a message body is replaced, whatever the value. Free text is scrubbed too: an
exception message or an f-string may quote a URL with `access_token=...`, a `Bearer ...`
header or a webhook secret, so those patterns are cut out of every string that is logged.

Every line goes through one handler: billsync's own (structlog) and the libraries' (stdlib
`logging`: apscheduler, uvicorn, alembic, urllib3) are rendered by the same processors, so off a
terminal every line is JSON and redacted the same way. Libraries speak from WARNING up.

Per-record detail (an entry whose UTBMS codes were left out, a bill moved) is DEBUG and counted
in the run's `RunTally`; the run's one summary line carries the counts (`details`). A step's own
figures (`figures`: the bills a poll followed) join that summary line too, DEBUG on their own.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import Counter
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, TextIO, cast
from uuid import UUID

import structlog

REDACTED = "[redacted]"
BILLSYNC_LOGGER = "billsync"  # the stdlib logger structlog's lines go through
LIBRARY_LEVEL = logging.WARNING  # libraries' INFO (a line per scheduled run, per request) is noise here
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
    r"""(?P<name>(?<![\w-])(?:[\w-]*(?:token|secret|password|passwd|api_?key|signature|credential)[\w-]*"""
    r"""|(?:authorization|auth|oauth|device|user)_code|key|sig))"""
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
# An OAuth authorization code in a URL or form body (`?code=...`, `&code=...`). A bare `code` key
# elsewhere is a vendor's error code (Graph's `"code": "InvalidRequest"`), which an operator needs.
_OAUTH_CODE = re.compile(r"""(?P<name>(?:(?<=[?&#])|^)code)(?P<sep>=)(?!\[redacted\])[A-Za-z0-9._~+/=%-]+""")
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
    scrubbed = _OAUTH_CODE.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", scrubbed)
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


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (and replaces when called again)."""


def _add_logger_name(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event_dict.get("_record")
    if record is not None:
        event_dict["logger"] = record.name  # which library said it
    return event_dict


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(level: str = "info", stream: TextIO | None = None, json: bool | None = None) -> None:
    """Set up logging once per process: JSON off a terminal, readable lines on one, for every logger."""
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    numeric = logging.getLevelName(level.upper())
    stamped: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = _OurHandler(stream or cast(TextIO, _CurrentStderr()))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, _add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # Tracebacks become text before redaction: they quote exception messages.
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric, LIBRARY_LEVEL))
    # A library that set up its own logging earlier in the process (uvicorn's default dictConfig
    # gives "uvicorn" a plain-text handler and stops propagation) would print past ours.
    for name in UVICORN_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    ours = logging.getLogger(BILLSYNC_LOGGER)
    ours.setLevel(numeric)  # propagates to the root's handler whatever the root's level
    ours.propagate = True
    structlog.configure(
        processors=[*stamped, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_args: ours,
        cache_logger_on_first_use=False,
    )


_TALLY: ContextVar[RunTally | None] = ContextVar("billsync_run_tally", default=None)


class RunTally:
    """Per-record events of one run, counted by what happened and why, for the run's summary line.

    Bound to the running thread's context like the run's id (core.daemon.jobs.run_job), because
    the lines arise deep in connectors that hold no handle on the run."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.warnings = 0  # how many of them were worth a warning on their own
        self.figures: Counter[str] = Counter()  # a step's own figures (bills followed...): see `figures`

    def details(self) -> dict[str, int]:
        """`what (why)` -> how many, most frequent first: the summary line's `details` field."""
        return dict(self.counts.most_common())


@contextmanager
def tallied() -> Iterator[RunTally]:
    """Count the per-record events logged inside the block; a tally outside it receives them too."""
    outer = _TALLY.get()
    tally = RunTally()
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)
        if outer is not None:
            outer.counts.update(tally.counts)
            outer.warnings += tally.warnings
            outer.figures.update(tally.figures)


def per_record(log: Any, event: str, *, reason: str = "", warning: bool = False, **fields: Any) -> None:
    """Log one record's detail at DEBUG and count it in the current run's tally (by event and reason).

    `warning` marks what a person should look at: the run's summary line is then a warning."""
    log.debug(event, **({"reason": reason} if reason else {}), **fields)
    tally = _TALLY.get()
    if tally is not None:
        tally.counts[f"{event} ({reason})" if reason else event] += 1
        tally.warnings += int(warning)


def figures(log: Any, event: str, **counts: int) -> None:
    """A step's figures (the PMS bills a poll followed, a payments cycle's events): one line of their own
    only outside a run; inside one they are DEBUG and join the run's one summary line.

    So a daemon job says one INFO line per run, while `billsync bill follow` still says what it did."""
    tally = _TALLY.get()
    if tally is None:
        log.info(event, **counts)
        return
    log.debug(event, **counts)
    tally.figures.update(counts)


@contextmanager
def quiet_below(level: int = logging.WARNING) -> Iterator[None]:
    """billsync's own lines below `level` go unsaid inside the block (a progress bar on a terminal:
    its INFO lines would be printed in among the bar, and the command's own output sums them up).

    Only ever raises the level; restores what it was afterwards."""
    ours = logging.getLogger(BILLSYNC_LOGGER)
    before = ours.level
    if before < level:
        ours.setLevel(level)
    try:
        yield
    finally:
        ours.setLevel(before)
