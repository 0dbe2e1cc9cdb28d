"""POST /hooks/{connector}/{firm} with the real Clio connector against the local Clio sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from billsync_sandboxes.cli.sandbox import build_sandboxes, read_seed, sandbox_firm_settings
from billsync_sandboxes.kit.firm_config import write_firm_config
from fastapi.testclient import TestClient

from config.settings import BillsyncSettings, load_settings
from connectors.clio.webhooks import sign as clio_sign
from core.runtime import build_runtime
from core.server import BackgroundWork, build_app
from core.store.payments import PaymentStore
from core.store.store import Store
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


def test_an_unsigned_delivery_gets_the_same_answer_for_a_firm_that_exists_and_one_that_does_not(
    served: ServedFirm,
) -> None:
    """Firm ids are not probeable: without a valid signature, /hooks says the same whatever the path names."""
    served.subscribe()
    body = json.dumps({"data": {"id": 1}, "meta": {"event": "created", "webhook_id": 1}}).encode()
    paths = ("/hooks/clio/demo", "/hooks/clio/nobody", "/hooks/practicepanther/demo", "/hooks/nothing/nobody")
    for headers in ({}, {"X-Hook-Signature": "0" * 64}):
        answers = [served.post(path, data=body, headers=headers) for path in paths]
        shown = {(a.status_code, a.content, a.headers.get("content-type"), a.headers.get("www-authenticate"))
                 for a in answers}  # fmt: skip
        assert shown == {(401, b'{"error":"webhook verification failed"}', "application/json", None)}, shown
    # A body too big is refused alike too, before anything else is looked at.
    big = b"x" * (1024 * 1024 + 1)
    assert {served.post(path, data=big).status_code for path in paths} == {413}
    assert served.worker.depth() == 0
    # The metrics (on a listener of their own) still tell the operator which were for no endpoint.
    assert 'billsync_webhook_deliveries_total{connector="unknown",outcome="not_found"} 6.0' in served.metrics()


def example_firm_settings(tmp_path: Path) -> BillsyncSettings:
    """Firm "demo" configured for every vendor in the example seed, LawPay included, at an address
    nothing is ever called on (these tests only post deliveries to the app)."""
    seed = Path(__file__).resolve().parents[2] / "config" / "examples" / "sandbox-seed.json"
    sandboxes = build_sandboxes(read_seed(seed), origin="the example seed", rate_limit=1000)
    config = tmp_path / "billsync.toml"
    write_firm_config(config, "demo", sandbox_firm_settings(sandboxes, "http://127.0.0.1:9"))
    return load_settings(config)


def test_a_gateway_delivery_for_a_firm_that_does_not_exist_looks_like_one_for_a_firm_that_does(
    tmp_path: Path,
) -> None:
    """LawPay's deliveries are never signed (docs/vendors/lawpay.md §11): a firm that takes payments answers any
    one 200 and rings its payments job; a firm id that does not exist answers just the same, and
    rings nothing."""
    settings = example_firm_settings(tmp_path)
    store = Store.open(settings.database_url)
    worker = BackgroundWork()
    rung: list[str] = []
    try:
        runtime = build_runtime(settings, "demo", store)
        assert runtime.payment_gateway is not None and runtime.payment_gateway.name == "lawpay"
        app = build_app({"demo": runtime}, settings=settings, worker=worker, payments_doorbell=rung.append)
        with TestClient(app) as client:
            answers = [
                client.post(f"/hooks/lawpay/{firm}", content=b'{"id": "evt_1", "type": "charge.completed"}')
                for firm in ("demo", "nobody")
            ]
    finally:
        worker.close()
        store.close()
    assert [(a.status_code, a.content) for a in answers] == [(200, b""), (200, b"")]
    assert answers[0].headers.get("content-type") == answers[1].headers.get("content-type")
    assert rung == ["demo"]  # only the firm that exists looks at its gateway's events


def test_a_gateway_delivery_is_only_a_doorbell_whatever_its_body_and_a_body_too_big_rings_nothing(
    tmp_path: Path,
) -> None:
    """LawPay's deliveries are unsigned (docs/vendors/lawpay.md §11), so nothing in one is believed: a body that
    is not JSON, or one claiming a paid charge, rings the firm's payments job and nothing else (the
    job reads the events from LawPay's API); the body is read within the same limit as any other
    delivery's, and one too big is refused before the handler sees it."""
    settings = example_firm_settings(tmp_path)
    store = Store.open(settings.database_url)
    worker = BackgroundWork()
    rung: list[str] = []
    claimed = json.dumps({"id": "evt_9", "type": "charge.completed", "data": {"amount": 999999, "status": "COMPLETED"}})
    try:
        app = build_app(
            {"demo": build_runtime(settings, "demo", store)},
            settings=settings,
            worker=worker,
            payments_doorbell=rung.append,
        )
        with TestClient(app) as client:
            answers = [client.post("/hooks/lawpay/demo", content=body) for body in (b"\xff{not json", claimed.encode())]
            too_big = client.post("/hooks/lawpay/demo", content=b"x" * (1024 * 1024 + 1))
        recorded = PaymentStore(store.engine).transactions("demo")
    finally:
        worker.close()
        store.close()
    assert [a.status_code for a in answers] == [200, 200]
    assert rung == ["demo", "demo"]  # a ring each; the daemon's run_soon makes a burst one run
    assert too_big.status_code == 413 and too_big.json()["error"].startswith("body larger")
    assert recorded == []  # the claimed charge is nobody's word: only the events API records money
