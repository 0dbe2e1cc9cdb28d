"""POST /hooks/{connector}/{firm} with the real Clio connector against the local Clio sandbox."""

from __future__ import annotations

import json

from connectors.clio.webhooks import sign as clio_sign
from tests.server.conftest import ServedFirm, wait_for


def _last_event(firm: ServedFirm) -> dict:
    events = [d for d in firm.sandbox.webhooks.deliveries if d["kind"] == "event"]
    assert events, "the sandbox delivered no event"
    return events[-1]


def test_handshake_is_answered_by_the_app(served: ServedFirm) -> None:
    served.subscribe()
    handshakes = [d for d in served.sandbox.webhooks.deliveries if d["kind"] == "handshake"]
    assert handshakes and all(d["status"] == 200 for d in handshakes)
    assert all(d["url"] == served.callback for d in handshakes)
    # The handshake echoes X-Hook-Secret, which is what enables the webhook.
    answer = served.post("/hooks/clio/demo", headers={"X-Hook-Secret": "abc123"}, data=b"{}")
    assert answer.status_code == 200 and answer.headers["x-hook-secret"] == "abc123"


def test_signed_delivery_repolls_in_the_background_and_a_redelivery_is_a_no_op(served: ServedFirm) -> None:
    served.subscribe()
    before = len(served.store.entries("demo"))
    served.log_call("settlement position")
    assert wait_for(lambda: len(served.store.entries("demo")) == before + 1)
    event = _last_event(served)
    assert event["status"] == 200
    assert served.worker.wait_idle(5)

    body = event["body"].encode()
    signature = clio_sign(served.clio_secret(event["webhook_id"]), body)
    again = served.post("/hooks/clio/demo", data=body, headers={"X-Hook-Signature": signature})
    assert again.status_code == 200
    assert served.worker.depth() == 0 and served.worker.wait_idle(5)
    assert len(served.store.entries("demo")) == before + 1
    metrics = served.metrics()
    assert 'billsync_webhook_deliveries_total{connector="clio",outcome="accepted"} 1.0' in metrics
    assert 'billsync_webhook_deliveries_total{connector="clio",outcome="duplicate"} 1.0' in metrics
    assert 'billsync_background_jobs_total{kind="repoll",outcome="ok"} 1.0' in metrics


def test_bad_signature_is_401_and_queues_nothing(served: ServedFirm) -> None:
    served.subscribe()
    body = json.dumps({"data": {"id": 1, "etag": "x"}, "meta": {"event": "created", "webhook_id": 1}}).encode()
    answer = served.post("/hooks/clio/demo", data=body, headers={"X-Hook-Signature": "0" * 64})
    assert answer.status_code == 401
    assert answer.json() == {"error": "webhook verification failed"}
    unsigned = served.post("/hooks/clio/demo", data=body)
    assert unsigned.status_code == 401
    assert served.worker.depth() == 0


def test_malformed_json_is_4xx_even_when_signed(served: ServedFirm) -> None:
    served.subscribe()
    hook = served.admin("GET", "webhooks").json()[0]
    body = b'{"data": '
    answer = served.post(
        "/hooks/clio/demo", data=body, headers={"X-Hook-Signature": clio_sign(served.clio_secret(hook["id"]), body)}
    )
    assert 400 <= answer.status_code < 500 and "error" in answer.json()


def test_oversize_body_is_413(served: ServedFirm) -> None:
    big = b"x" * (1024 * 1024 + 1)
    assert served.post("/hooks/clio/demo", data=big).status_code == 413
    # Without a Content-Length (chunked), reading stops at the limit.
    chunked = served.post("/hooks/clio/demo", data=iter([big[:600_000], big[600_000:]]))
    assert chunked.status_code == 413 and chunked.json()["error"].startswith("body larger")


def test_unknown_firm_or_connector_is_404(served: ServedFirm) -> None:
    for path in ("/hooks/clio/nobody", "/hooks/practicepanther/demo", "/hooks/nothing/nobody"):
        answer = served.post(path, data=b"{}")
        assert answer.status_code == 404, path
        assert set(answer.json()) == {"error"}
    assert (
        'billsync_webhook_deliveries_total{connector="unknown",outcome="not_found"} 3.0' in served.metrics()
    )
