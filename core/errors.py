"""Exceptions named for what the caller should do about them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpAnswer:
    """What a vendor answered when it refused a request (status 400 or more), kept on the error.

    `body` is the start of the answer's text, at most core.http.ANSWER_BODY_LIMIT characters. It may
    hold personal data or anything the vendor echoed back, so core never logs it and no message core
    writes from it quotes more than it did before; a vendor client reads it (an error code, field
    names) to name the refusal. The repr shows the status only.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: str = field(default="", repr=False)

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON (or was cut at the limit)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class BillsyncError(Exception):
    """Base of every error billsync raises on purpose."""

    # The vendor's answer when this error stands for an HTTP refusal (core.http sets it), else None.
    answer: HttpAnswer | None = None


class ConfigError(BillsyncError):
    """The configuration is wrong; the message says which setting and why.

    `problems` holds one "key: why" per bad setting when validation found several, so
    `billsync check-config` can print each on its own line."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class Retryable(BillsyncError):
    """A passing failure (timeout, 429, 5xx): try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthFailed(BillsyncError):
    """Credentials are missing, expired or revoked: a person must reconnect."""


class NotConnected(AuthFailed):
    """No account is connected for this connector yet: `billsync connect <connector>` connects one."""

    def __init__(self, connector: str, firm: str) -> None:
        super().__init__(f"{connector} is not connected for firm {firm}: run `billsync connect {connector}`")
        self.connector = connector
        self.firm = firm


class Fatal(BillsyncError):
    """The request can never succeed as sent; retrying would not help."""


class InvalidSignature(BillsyncError):
    """A webhook or ingest request failed verification and must be rejected."""


class Indeterminate(Retryable):
    """A write whose outcome is unknown (timeout or 5xx after sending): look it up before re-sending."""


class ShuttingDown(BillsyncError):
    """The process is stopping: a vendor request was not sent (nothing reached the vendor).

    Not Retryable: the run ends here, and what it did not reach resumes from the store."""
