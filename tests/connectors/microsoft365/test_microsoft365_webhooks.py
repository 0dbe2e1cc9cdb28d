"""Change notifications: handshake, subscriptions per resource, clientState, lifecycle events, renewal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from connectors.microsoft365.webhooks import MAX_LIFETIME, SubscriptionState
from core.connector import InboundRequest
from core.errors import InvalidSignature
from tests.connectors.microsoft365.harness import ACME, CALLBACK, JANE, NOW, event, make_env


def subscribed():  # type: ignore[no-untyped-def]
    env = make_env()
    env.subscription = env.connector.webhooks().ensure(CALLBACK, None)
    return env


def test_the_validation_handshake_echoes_the_token_as_plain_text() -> None:
    env = make_env()
    token = "Validation: Testing client application reachability for subscription Request-Id: 1 & 2"
    result = env.connector.webhooks().handle(
        InboundRequest(headers={}, body=b"", query={"validationToken": token}), None
    )
    assert result.reply_status == 200
    assert result.reply_headers["Content-Type"].startswith("text/plain")
    assert result.reply_body == token.encode() and not result.streams


def test_ensure_subscribes_each_mailbox_resource_and_call_records_within_graphs_limits() -> None:
    env = subscribed()
    subscription = env.subscription
    assert subscription is not None
    live = env.admin("GET", "subscriptions")
    assert sorted(s["resource"] for s in live) == sorted(
        [f"/users/{m}/events" for m in (JANE, "john.roe@firm.example")]
        + [f"/users/{m}/mailFolders('sentitems')/messages" for m in (JANE, "john.roe@firm.example")]
        + ["/communications/callRecords"]
    )
    # Graph validated both URLs of every subscription with the handshake before creating it.
    assert env.sandbox.validations.count(CALLBACK) == len(live)
    assert all(s["clientState"] == SubscriptionState.load(subscription).client_state for s in live)  # type: ignore[union-attr]
    assert subscription.expires_at <= NOW + MAX_LIFETIME["calendar_events"]
    assert len(subscription.id) <= 128  # fits core's column
    # Nothing to do a moment later: the same Subscription comes back.
    assert env.connector.webhooks().ensure(CALLBACK, subscription) == subscription


def test_a_change_rings_the_doorbell_for_its_stream() -> None:
    env = subscribed()
    env.admin("POST", f"events/{JANE}", event("new", JANE, [ACME], NOW - timedelta(hours=2)))
    assert env.repolls == [["calendar_events"]]
    _url, _headers, body = env.deliveries[-1]
    notification = json.loads(body)["value"][0]
    assert notification["changeType"] == "created" and "clientState" in notification
    result = env.connector.webhooks().handle(InboundRequest(headers={}, body=body), env.subscription)
    assert result.reply_status == 202 and result.delivery_id
    # A redelivery carries the same id, so core asks for no second re-poll.
    assert env.connector.webhooks().handle(InboundRequest(headers={}, body=body), env.subscription).delivery_id == (
        result.delivery_id
    )


def test_a_wrong_or_missing_client_state_is_rejected() -> None:
    env = subscribed()
    env.admin(
        "POST",
        f"messages/{JANE}",
        {
            "subject": "x",
            "sentDateTime": "2026-04-06T10:00:00Z",
            "receivedDateTime": "2026-04-06T10:00:00Z",
            "toRecipients": [],
        },
    )
    _, _, body = env.deliveries[-1]
    handler = env.connector.webhooks()
    payload = json.loads(body)
    forged = json.dumps({"value": [payload["value"][0] | {"clientState": "guessed"}]}).encode()
    missing = json.dumps({"value": [{k: v for k, v in payload["value"][0].items() if k != "clientState"}]}).encode()
    for bad in (forged, missing, b"not json", b'{"value": []}'):
        with pytest.raises(InvalidSignature):
            handler.handle(InboundRequest(headers={}, body=bad), env.subscription)
    with pytest.raises(InvalidSignature):
        handler.handle(InboundRequest(headers={}, body=body), None)  # nothing to verify against


def test_lifecycle_events_reauthorize_recreate_and_repoll() -> None:
    env = subscribed()
    live = {s["resource"]: s["id"] for s in env.admin("GET", "subscriptions")}
    events_id = live[f"/users/{JANE}/events"]
    env.admin("DELETE", "requests")
    env.admin(
        "POST", f"subscriptions/{live['/communications/callRecords']}/lifecycle", {"event": "reauthorizationRequired"}
    )
    assert any(r["path"].endswith("/reauthorize") and r["status"] == 204 for r in env.graph_requests())
    env.admin("POST", f"subscriptions/{events_id}/lifecycle", {"event": "missed"})
    assert env.repolls[-1] == ["calendar_events"]
    env.admin("POST", f"subscriptions/{events_id}/lifecycle", {"event": "subscriptionRemoved"})
    after = {s["resource"]: s["id"] for s in env.admin("GET", "subscriptions")}
    assert f"/users/{JANE}/events" in after and after[f"/users/{JANE}/events"] != events_id  # recreated
    assert env.repolls[-1] == ["calendar_events"]  # and a resync through the delta


def test_renewal_before_expiry_and_graphs_maximum_lifetime() -> None:
    env = subscribed()
    first = env.subscription
    assert first is not None
    env.clock.advance(timedelta(hours=50).total_seconds())  # under a day left
    renewed = env.connector.webhooks().ensure(CALLBACK, first)
    assert renewed is not None and renewed.expires_at > first.expires_at
    assert any(r["method"] == "PATCH" for r in env.graph_requests())
    # The sandbox refuses what Graph refuses: more than 4,230 minutes ahead.
    [one] = [s for s in env.admin("GET", "subscriptions") if "callRecords" in s["resource"]]
    too_far = (env.clock.now() + timedelta(minutes=4231)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = env.connector.client.request  # raw PATCH through the client to see the refusal
    with pytest.raises(Exception, match="HTTP 400"):
        response("PATCH", f"subscriptions/{one['id']}", json={"expirationDateTime": too_far})


def test_an_unreachable_callback_gets_no_subscription() -> None:
    env = make_env()
    env.sandbox.post = lambda url, headers, body: (404, {}, b"")
    assert env.connector.webhooks().ensure(CALLBACK, None) is None
    assert env.admin("GET", "subscriptions") == []
