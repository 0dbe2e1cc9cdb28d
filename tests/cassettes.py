"""vcrpy for every vendor's cassettes: replay only unless recording is asked for, secrets scrubbed.

Cassettes are recorded once against a vendor's sandbox served by uvicorn (`serve_for_recording`)
and replayed with record_mode="none"; tests/test_cassettes_are_clean.py scans them for secrets.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import uvicorn
import vcr
from fastapi import FastAPI

from core.tokens import OAuthToken, TokenStore
from tests.connectors.in_process import token_store

SECRET_FIELDS = frozenset({"access_token", "refresh_token", "client_secret", "shared_secret", "code", "id_token"})


def _scrub(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: "REDACTED" if k in SECRET_FIELDS and v else _scrub(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(item) for item in node]
    return node


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop cookies and replace token values in JSON bodies before a response is recorded."""
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() not in ("set-cookie", "cookie")}
    raw = response["body"].get("string")
    if raw:
        try:
            decoded = json.loads(raw)
        except ValueError:
            return response
        response["body"]["string"] = json.dumps(_scrub(decoded)).encode()
    return response


def vendor_vcr(library: Path, *, record: bool) -> vcr.VCR:
    """vcrpy over one vendor's cassette folder; bodies are matched too, so a write cassette proves what was sent."""
    return vcr.VCR(
        cassette_library_dir=str(library),
        record_mode="once" if record else "none",
        filter_headers=[("authorization", "REDACTED"), ("cookie", None)],
        filter_query_parameters=[("access_token", "REDACTED"), ("client_secret", "REDACTED")],
        filter_post_data_parameters=[(name, "REDACTED") for name in ("client_secret", "refresh_token", "code")],
        before_record_response=scrub_response,
        decode_compressed_response=True,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
    )


@contextmanager
def serve_for_recording(app: FastAPI, port: int) -> Iterator[None]:
    """Serve a sandbox app on loopback while cassettes are recorded."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # fails loudly if the port is taken
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=5)


class IssuesTokens(Protocol):
    """A vendor sandbox that mints OAuth tokens (Clio's, PracticePanther's)."""

    def issue_token(self) -> Mapping[str, object]: ...


def cassette_tokens(
    live: IssuesTokens | None, firm: str, vendor: str, clock: Callable[[], datetime], *, access: str | None = None
) -> TokenStore:
    """A token store holding `firm`'s `vendor` token: the live sandbox's own while recording, and
    placeholders on replay (the Authorization header is scrubbed from cassettes, so any token
    replays). `access` overrides the access token, for a request the vendor must refuse."""
    tokens = token_store(clock)
    if live is not None:
        issued = live.issue_token()
        token = OAuthToken(access or str(issued["access_token"]), str(issued["refresh_token"]))
    else:
        token = OAuthToken(access or "cassette-access-token", "cassette-refresh-token")
    tokens.save(firm, vendor, token)
    return tokens
