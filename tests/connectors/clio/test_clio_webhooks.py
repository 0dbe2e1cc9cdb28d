"""Clio webhooks: handshake, signatures, dedupe ids, streams to re-poll, create and renew.

No cassettes here (cassettes record only what billsync asks of a vendor): deliveries are built and
signed in the test, or come from the sandbox, which calls the handler directly through its
`deliver` hook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.clio.webhooks import WATCHED_MODELS, ClioWebhooks, sign
from core.connector import InboundRequest, Subscription, WebhookResult
from core.errors import InvalidSignature
from tests.connectors.clio.harness import ClioEnv, make_env

CALLBACK = "https://billsync.example.test/hooks/clio/firm-clio-test"
SECRET = "0123456789abcdef0123456789abcdef01234567"
SUBSCRIPTION = Subscription(
    id="activity:12,matter:11,task:13",
    expires_at=datetime.fromisoformat("2026-05-06T15:00:00+00:00"),
    secret=json.dumps({"11": SECRET, "12": "other-secret", "13": "third-secret"}),
)


class Receiver:
    """The sandbox's deliver hook, routed into the handler the way the HTTP server would."""

    def __init__(self) -> None:
        self.handler: ClioWebhooks | None = None
        self.subscription: Subscription | None = None
        self.results: list[WebhookResult] = []
        self.rejected = 0
        self.echo = True

    def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        assert self.handler is not None
        request = InboundRequest(headers={k.lower(): v for k, v in headers.items()}, body=body)
        try:
            result = self.handler.handle(request, self.subscription)
        except InvalidSignature:
            self.rejected += 1
            return 401, {}
        self.results.append(result)
        return result.reply_status, dict(result.reply_headers) if self.echo else {}


def wired(receiver: Receiver | None = None) -> tuple[ClioEnv, ClioWebhooks, Receiver]:
    receiver = receiver or Receiver()
    env = make_env(deliver=receiver)
    receiver.handler = env.connector.webhooks()
    return env, receiver.handler, receiver


def delivery(body: bytes, signature: str | None) -> InboundRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hook-signature"] = signature
    return InboundRequest(headers=headers, body=body)


def payload(webhook_id: int = 11, event: str = "updated", record_id: int = 1001, etag: str = '"e1"') -> bytes:
    return json.dumps(
        {"data": {"id": record_id, "etag": etag}, "meta": {"event": event, "webhook_id": webhook_id}},
        separators=(",", ":"),
    ).encode()


def test_the_handshake_echoes_x_hook_secret_with_200() -> None:
    handler = make_env().connector.webhooks()
    result = handler.handle(InboundRequest(headers={"x-hook-secret": "abc123"}, body=b'{"webhook_id": 1}'), None)
    assert result.reply_status == 200 and dict(result.reply_headers) == {"X-Hook-Secret": "abc123"}
    assert list(result.streams) == [] and result.delivery_id is None


def test_a_signed_delivery_names_the_streams_of_its_model() -> None:
    handler = make_env().connector.webhooks()
    body = payload()
    result = handler.handle(delivery(body, sign(SECRET, body)), SUBSCRIPTION)
    assert list(result.streams) == ["matters"]
    assert result.delivery_id == 'clio:11:updated:1001:"e1"'
    activity = payload(webhook_id=12, record_id=5)
    assert list(handler.handle(delivery(activity, sign("other-secret", activity)), SUBSCRIPTION).streams) == []
    unknown = payload(webhook_id=99)  # signed by a known secret, from a webhook billsync forgot
    assert set(handler.handle(delivery(unknown, sign(SECRET, unknown)), SUBSCRIPTION).streams) == {
        "matters",
        "contacts",
        "communications",
        "calendar_entries",
        "tasks",
        "documents",
        "bills",
    }


def test_every_watched_model_names_streams_clio_has() -> None:
    # Core re-polls by stream name: a renamed stream must take its webhook model along.
    names = {s.name for s in make_env().connector.streams()}
    assert {stream for streams in WATCHED_MODELS.values() for stream in streams} <= names


def test_the_delivery_id_is_stable_for_dedupe() -> None:
    handler = make_env().connector.webhooks()
    first, again, changed = payload(), payload(), payload(etag='"e2"')

    def dedupe_id(body: bytes) -> str | None:
        return handler.handle(delivery(body, sign(SECRET, body)), SUBSCRIPTION).delivery_id

    assert dedupe_id(first) == dedupe_id(again) != dedupe_id(changed)
    bare = b'{"data": {"id": 1}}'
    assert dedupe_id(bare) == "clio:sha256:" + hashlib.sha256(bare).hexdigest()


def test_a_base64_signature_is_also_accepted() -> None:
    # docs/vendors/clio.md §3.16: hex vs base64 is UNCONFIRMED; both encodings of the right HMAC verify.
    handler = make_env().connector.webhooks()
    body = payload()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert list(handler.handle(delivery(body, signature), SUBSCRIPTION).streams) == ["matters"]
    assert list(handler.handle(delivery(body, sign(SECRET, body).upper()), SUBSCRIPTION).streams) == ["matters"]


@pytest.mark.parametrize(
    ("body", "signature", "subscription", "reason"),
    [
        (payload(), sign("wrong-secret", payload()), SUBSCRIPTION, "bad X-Hook-Signature"),
        (payload(), sign(SECRET, payload() + b" "), SUBSCRIPTION, "bad X-Hook-Signature"),
        (payload(), None, SUBSCRIPTION, "without X-Hook-Signature"),
        (payload(), "", SUBSCRIPTION, "without X-Hook-Signature"),
        (payload(), sign(SECRET, payload()), None, "no webhook subscription"),
        (b"{not json", sign(SECRET, b"{not json"), SUBSCRIPTION, "malformed"),
        (b"[1, 2]", sign(SECRET, b"[1, 2]"), SUBSCRIPTION, "not a JSON object"),
    ],
)
def test_unverifiable_deliveries_are_rejected(
    body: bytes, signature: str | None, subscription: Subscription | None, reason: str
) -> None:
    handler = make_env().connector.webhooks()
    with pytest.raises(InvalidSignature, match=reason):
        handler.handle(delivery(body, signature), subscription)


def hooks(env: ClioEnv) -> list[dict[str, Any]]:
    return env.sandbox.records("webhooks")


def test_ensure_subscribes_every_watched_model_and_the_handshake_enables_them() -> None:
    env, handler, receiver = wired()
    subscription = handler.ensure(CALLBACK, None)
    assert subscription is not None
    stored = hooks(env)
    assert sorted(h["model"] for h in stored) == sorted(WATCHED_MODELS)
    assert all(h["status"] == "enabled" and h["url"] == CALLBACK for h in stored)  # handshakes echoed
    assert all(h["fields"] == "id,etag,updated_at" and h["events"] == ["created", "updated", "deleted"] for h in stored)
    assert subscription.expires_at == env.clock.now() + timedelta(days=30)
    assert sorted(subscription.id.split(",")) == sorted(f"{h['model']}:{h['id']}" for h in stored)
    assert json.loads(subscription.secret or "{}") == {str(h["id"]): h["shared_secret"] for h in stored}
    # The notes list has no webhook model (docs/vendors/clio.md §3.16): polling alone covers it.
    assert "note" not in WATCHED_MODELS

    receiver.subscription = subscription
    env.sandbox.update("matters", 1002, {"status": "Open"})
    env.sandbox.flush_webhooks()
    assert receiver.rejected == 0
    assert [list(r.streams) for r in receiver.results if r.delivery_id] == [["matters"]]


def test_ensure_leaves_fresh_webhooks_alone_and_renews_with_two_days_left() -> None:
    env, handler, _ = wired()
    handler.ensure(CALLBACK, None)
    env.admin("DELETE", "requests")
    env.adapter.sent.clear()
    env.clock.advance(27 * 24 * 3600)  # 3 days left
    again = handler.ensure(CALLBACK, None)
    assert again is not None
    assert [r.method for r in env.adapter.sent if "/api/v4/" in str(r.url)] == ["GET"]  # only the list
    env.clock.advance(int(1.5 * 24 * 3600))  # 1.5 days left: renew
    renewed = handler.ensure(CALLBACK, again)
    patches = [r for r in env.adapter.sent if r.method == "PATCH"]
    assert len(patches) == len(WATCHED_MODELS)
    for patch in patches:
        expires = datetime.fromisoformat(json.loads(patch.body or b"{}")["data"]["expires_at"])
        assert timedelta(days=29) < expires - env.clock.now() <= timedelta(days=31)
    assert renewed is not None and renewed.expires_at == env.clock.now().replace(microsecond=0) + timedelta(days=30)
    assert not [r for r in env.adapter.sent if r.method == "POST" and "/api/v4/" in str(r.url)]  # nothing re-created


def test_a_suspended_webhook_is_replaced_and_a_pending_one_activated() -> None:
    receiver = Receiver()
    env, handler, _ = wired(receiver)
    handler.ensure(CALLBACK, None)
    suspended = next(h for h in hooks(env) if h["model"] == "task")
    env.sandbox.update("webhooks", suspended["id"], {"status": "suspended"})
    receiver.echo = False  # the next handshake goes unanswered: Clio leaves the webhook pending
    subscription = handler.ensure(CALLBACK, None)
    assert subscription is not None
    tasks = [h for h in hooks(env) if h["model"] == "task"]
    assert len(tasks) == 1 and tasks[0]["id"] != suspended["id"]
    assert tasks[0]["status"] == "enabled"  # activated with PUT /webhooks/{id}/activate
    assert any(r.method == "PUT" and "/activate" in str(r.url) for r in env.adapter.sent)
    assert f"task:{tasks[0]['id']}" in subscription.id
