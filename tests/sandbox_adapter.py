"""A requests transport that answers from a sandbox's ASGI app, in process: no sockets, no sleeps.

Every connector's test harness mounts it on a plain requests.Session, so the connector's own
client code runs unchanged. Connection drops and cut-off bodies raise as requests would over a
socket, so the retry policy and the lost-answer recovery are exercised for real.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from billsync_sandboxes.kit import ConnectionDropped
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from starlette.testclient import TestClient


class SandboxAdapter(BaseAdapter):
    """Sends each request through a TestClient; `sent` keeps everything the connector sent."""

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self._client = client
        self.sent: list[requests.PreparedRequest] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        """Send through the TestClient; a dropped or cut-off answer raises as requests would."""
        body = request.body.encode() if isinstance(request.body, str) else request.body
        self.sent.append(request.copy())
        try:
            answer = self._client.request(
                str(request.method), str(request.url), headers=dict(request.headers), content=body
            )
        except ConnectionDropped:
            # Over a socket the sandbox's `reset` fault shows up like this (test_clio_sandbox_live.py).
            raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(0 bytes read)") from None
        declared = answer.headers.get("content-length")
        if declared is not None and int(declared) > len(answer.content):
            raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.content
        response.url = str(request.url)
        response.reason = answer.reason_phrase
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        """Nothing to release."""


class SandboxAdmin:
    """The admin calls every harness makes on its sandbox (`app`: a TestClient; `vendor`: its mount name)."""

    vendor: ClassVar[str]
    app: TestClient

    def admin(self, method: str, path: str, payload: Any = None) -> Any:
        """Call the sandbox admin API (no auth, no faults), as a person in the vendor's UI would act."""
        response = self.app.request(method, f"/_sandbox/{self.vendor}/{path.strip('/')}", json=payload)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def faults(self, *rules: Mapping[str, Any]) -> None:
        """Replace the sandbox's fault rules (none clears them)."""
        if rules:
            self.admin("POST", "faults", {"rules": list(rules), "seed": 1})
        else:
            self.admin("DELETE", "faults")

    def lose_create_answers(self, route: str, *, applied: bool) -> None:
        """Every create (POST) at `route` loses its answer: cut off after the sandbox stored the
        record (`applied`), or the connection reset before it did."""
        self.faults(
            {"route": route, "kind": "truncate" if applied else "reset", "methods": ["POST"], "probability": 1.0}
        )
