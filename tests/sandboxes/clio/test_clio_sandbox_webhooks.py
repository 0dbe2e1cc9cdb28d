"""Webhook behaviour of the Clio sandbox: handshake, signatures, watch lists, expiry, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from billsync_sandboxes.clio.state import ClioSandbox, create_app
from billsync_sandboxes.kit import FakeClock

from tests.testclient import TestClient

CLIO_FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "clio" / "fixtures"  # the connector's too
SEED = json.loads((CLIO_FIXTURES / "clio_seed.json").read_text())
API = "/clio/api/v4"
ADMIN = "/_sandbox/clio"
HOOK_URL = "https://billsync.example.test/hooks/clio"


@dataclass
class Receiver:
    """A fake webhook endpoint: records calls, optionally echoes the handshake secret."""

    echo: bool = True
    status: int = 200
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, url: str, headers: Any, body: bytes) -> Any:
        self.calls.append({"url": url, "headers": dict(headers), "body": body})
        secret = headers.get("X-Hook-Secret")
        if secret is not None:
            return (200, {"X-Hook-Secret": secret}) if self.echo else 200
        return self.status

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(c["body"]) for c in self.calls if "X-Hook-Signature" in c["headers"]]

    def handshakes(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if "X-Hook-Secret" in c["headers"]]


@dataclass
class Env:
    sandbox: ClioSandbox
    client: TestClient
    clock: FakeClock
    receiver: Receiver
    auth: dict[str, str]

    def send(self, method: str, path: str, **kwargs: Any):
        return self.client.request(method, API + path, headers={**self.auth, **kwargs.pop("headers", {})}, **kwargs)

    def hook(self, **data: Any) -> dict[str, Any]:
        body = {"url": HOOK_URL, "model": "activity", "fields": "id,etag,quantity", **data}
        response = self.send(
            "POST", "/webhooks.json?fields=id,status,shared_secret,expires_at,events,model", json={"data": body}
        )
        assert response.status_code == 201, response.text
        return response.json()["data"]


def make_env(receiver: Receiver | None = None) -> Env:
    clock = FakeClock()
    receiver = receiver or Receiver()
    sandbox = ClioSandbox(json.loads(json.dumps(SEED)), clock=clock, deliver=receiver, rate_limit_per_minute=10_000)
    token = sandbox.issue_token()
    return Env(
        sandbox, TestClient(create_app(sandbox)), clock, receiver, {"Authorization": f"Bearer {token['access_token']}"}
    )


def new_entry(env: Env, **extra: Any) -> int:
    data = {"type": "TimeEntry", "date": "2026-04-06", "quantity": 600, "price": 300, "matter": {"id": 1001}, **extra}
    response = env.send("POST", "/activities.json", json={"data": data})
    assert response.status_code == 201
    return int(response.json()["data"]["id"])


def test_immediate_handshake_then_signed_deliveries() -> None:
    env = make_env()
    hook = env.hook()
    # The create answer is "pending": the handshake runs after it, as in Clio.
    assert hook["status"] == "pending"
    [handshake] = env.receiver.handshakes()
    assert handshake["url"] == HOOK_URL
    assert handshake["headers"]["X-Hook-Secret"] == hook["shared_secret"]
    status = env.send("GET", f"/webhooks/{hook['id']}.json?fields=status").json()["data"]["status"]
    assert status == "enabled"

    entry_id = new_entry(env)
    [call] = [c for c in env.receiver.calls if "X-Hook-Signature" in c["headers"]]
    expected = hmac.new(hook["shared_secret"].encode(), call["body"], hashlib.sha256).hexdigest()
    assert call["headers"]["X-Hook-Signature"] == expected
    payload = json.loads(call["body"])
    assert payload["meta"] == {"event": "created", "webhook_id": hook["id"]}
    assert payload["data"]["id"] == entry_id and payload["data"]["quantity"] == 600.0
    assert set(payload["data"]) == {"id", "etag", "quantity"}

    assert env.send("DELETE", f"/activities/{entry_id}.json").status_code == 204
    assert env.receiver.events()[-1]["meta"]["event"] == "deleted"
    assert env.receiver.events()[-1]["data"]["id"] == entry_id


def test_delayed_activation_with_put() -> None:
    env = make_env(Receiver(echo=False))
    hook = env.hook()
    secret = env.receiver.handshakes()[0]["headers"]["X-Hook-Secret"]
    new_entry(env)
    assert env.receiver.events() == []  # not enabled until the handshake succeeds
    wrong = env.send("PUT", f"/webhooks/{hook['id']}/activate", headers={"X-Hook-Secret": "nope"})
    assert wrong.status_code == 422
    ok = env.send("PUT", f"/webhooks/{hook['id']}/activate", headers={"X-Hook-Secret": secret})
    assert ok.status_code == 204
    new_entry(env)
    assert [e["meta"]["event"] for e in env.receiver.events()] == ["created"]


def test_expiry_defaults_and_limits() -> None:
    env = make_env()
    now = env.clock.now()
    default = env.hook()
    assert default["expires_at"] == (now + timedelta(days=3)).isoformat()
    longest = env.hook(expires_at=(now + timedelta(days=31)).isoformat())
    assert longest["expires_at"] == (now + timedelta(days=31)).isoformat()
    by_number = env.hook(model=2, events=["updated"])
    assert by_number["model"] == "activity" and by_number["events"] == ["updated"]

    def rejected(**data: Any) -> int:
        body = {"url": HOOK_URL, "model": "activity", "fields": "id,etag", **data}
        return env.send("POST", "/webhooks.json", json={"data": body}).status_code

    assert rejected(expires_at=(now + timedelta(days=31, seconds=1)).isoformat()) == 422
    assert rejected(expires_at=(now - timedelta(seconds=1)).isoformat()) == 422
    assert rejected(url="http://billsync.example.test/hooks") == 422  # https only
    assert rejected(fields="id," + ",".join(["etag"] * 300)) == 422  # over 1000 characters
    assert rejected(fields="id,description") == 400  # not an Activity field
    assert rejected(model="invoice") == 422
    assert rejected(events=["matter_opened"]) == 422  # matter-only event
    assert env.send("POST", "/webhooks.json", json={"data": {"url": HOOK_URL, "model": "activity"}}).status_code == 422
    too_far = env.send(
        "PATCH",
        f"/webhooks/{default['id']}.json",
        json={"data": {"expires_at": (now + timedelta(days=40)).isoformat()}},
    )
    assert too_far.status_code == 422


def test_expired_webhooks_stop_delivering_until_extended() -> None:
    env = make_env()
    hook = env.hook()
    env.clock.advance(3 * 24 * 3600 + 1)
    new_entry(env)
    assert env.receiver.events() == []
    extended = env.send(
        "PATCH",
        f"/webhooks/{hook['id']}.json",
        json={"data": {"expires_at": (env.clock.now() + timedelta(days=10)).isoformat()}},
    )
    assert extended.status_code == 200
    new_entry(env)
    assert [e["meta"]["event"] for e in env.receiver.events()] == ["created"]


def test_updated_fires_only_for_watched_fields_after_the_first() -> None:
    env = make_env()
    env.hook(fields="id,price", events=["updated"])
    path = "/activities/125565936.json"
    env.send("PATCH", path, json={"data": {"note": "first change"}})
    env.send("PATCH", path, json={"data": {"note": "second change"}})
    env.send("PATCH", path, json={"data": {"price": 360}})
    events = env.receiver.events()
    assert [e["data"] for e in events] == [
        {"id": 125565936, "price": 350.0},
        {"id": 125565936, "price": 360.0},
    ]


def test_url_change_needs_a_new_handshake() -> None:
    env = make_env()
    hook = env.hook()
    changed = env.send("PATCH", f"/webhooks/{hook['id']}.json?fields=status", json={"data": {"url": HOOK_URL + "/v2"}})
    assert changed.json()["data"]["status"] == "pending"
    assert [c["url"] for c in env.receiver.handshakes()] == [HOOK_URL, HOOK_URL + "/v2"]
    assert env.send("GET", f"/webhooks/{hook['id']}.json?fields=status").json()["data"]["status"] == "enabled"


def test_admin_changes_fire_webhooks() -> None:
    env = make_env()
    env.hook(model="matter", fields="id,status", events=["updated", "matter_closed"])
    env.hook(model="bill", fields="id,state,total", events=["created"])
    env.hook(model="activity", fields="id,on_bill", events=["updated", "deleted"])
    assert env.client.patch(f"{ADMIN}/matters/1001", json={"status": "Closed"}).status_code == 200
    env.client.post(f"{ADMIN}/bills/generate", json={"matter_id": 1001})
    assert env.client.delete(f"{ADMIN}/activities/125565939").status_code == 204
    seen = [(e["meta"]["event"], e["data"]) for e in env.receiver.events()]
    assert ("updated", {"id": 1001, "status": "Closed"}) in seen
    assert ("matter_closed", {"id": 1001, "status": "Closed"}) in seen
    assert ("created", {"id": 1, "state": "draft", "total": 710.5}) in seen
    assert ("updated", {"id": 125565936, "on_bill": True}) in seen
    assert ("deleted", {"id": 125565939, "on_bill": False}) in seen


def test_failed_deliveries_retry_with_backoff_and_410_disables() -> None:
    env = make_env(Receiver(status=500))
    hook = env.hook(events=["created"])
    new_entry(env)
    assert len(env.receiver.events()) == 1
    env.clock.advance(119)
    env.sandbox.flush_webhooks()
    assert len(env.receiver.events()) == 1
    env.clock.advance(1)
    env.client.post(f"{ADMIN}/webhooks/flush")
    assert len(env.receiver.events()) == 2  # retried after 2 minutes
    env.receiver.status = 410
    env.clock.advance(240)
    env.sandbox.flush_webhooks()
    status = env.send("GET", f"/webhooks/{hook['id']}.json?fields=status").json()["data"]["status"]
    assert status == "suspended"
    new_entry(env)
    assert len(env.receiver.events()) == 3
    attempts = [d["attempt"] for d in env.client.get(f"{ADMIN}/deliveries").json() if d["kind"] == "event"]
    assert attempts == [1, 2, 3]


def test_deleted_webhooks_stop_delivering() -> None:
    env = make_env()
    hook = env.hook()
    assert env.send("DELETE", f"/webhooks/{hook['id']}.json").status_code == 204
    new_entry(env)
    assert env.receiver.events() == []
    assert env.send("GET", f"/webhooks/{hook['id']}.json").status_code == 404


@pytest.mark.parametrize("field_list", ["id,etag", "id,matter{id,display_number}"])
def test_webhook_fields_use_the_fields_syntax(field_list: str) -> None:
    env = make_env()
    env.hook(fields=field_list, events=["created"])
    entry_id = new_entry(env)
    data = env.receiver.events()[0]["data"]
    assert data["id"] == entry_id
    if "matter" in field_list:
        assert data["matter"] == {"id": 1001, "display_number": "00012-Acme"}
