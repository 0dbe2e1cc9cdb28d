"""The PracticePanther sandbox in-process, behind Starlette's TestClient (no network, fake clock)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.practicepanther.state import PracticePantherSandbox, create_app

from tests.connectors.practicepanther.seed import seed

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

BASE = "http://testserver"
API = "/practicepanther/api/v2"


@dataclass
class PracticePantherApp:
    """A sandbox, its fake clock, a TestClient and a bearer token."""

    sandbox: PracticePantherSandbox
    clock: FakeClock
    client: TestClient
    token: dict[str, Any]

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{API}/{path}", params=params, headers=self.auth())

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token['access_token']}"}

    def admin(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.client.request(method, f"/_sandbox/practicepanther/{path}", json=payload)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


def make_app(data: dict[str, Any] | None = None, **options: Any) -> PracticePantherApp:
    clock = FakeClock()
    sandbox = PracticePantherSandbox(seed() if data is None else data, clock=clock, rng_seed=1, **options)
    client = TestClient(create_app(sandbox), base_url=BASE)
    return PracticePantherApp(sandbox, clock, client, sandbox.issue_token())
