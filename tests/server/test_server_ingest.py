"""POST /ingest/{firm}: Standard Webhooks-signed activity batches, captured in the background."""

from __future__ import annotations

import dataclasses
import time

import requests

from core.server import BackgroundWork, build_app
from core.serving import run_in_thread
from tests.server.conftest import ServedFirm, signed_ingest, wait_for, with_ingest_secret


def _call(external_id: str, **changes) -> dict:
    record = {
        "source": "phone",
        "external_id": external_id,
        "kind": "call",
        "actor": "ava.nguyen0@firm.example",
        "started_at": "2026-10-29T16:00:00Z",
        "ended_at": "2026-10-29T16:20:00Z",
        "title": "call with client",
        "matter_id": "1",
        "body": "privileged transcript",
    }
    record.update(changes)
    return record


def _captured(firm: ServedFirm, *ids: str) -> set[tuple[str, str]]:
    return firm.store.known_activities("demo", [("phone", i) for i in ids])


def test_valid_signed_batch_is_captured(served: ServedFirm) -> None:
    answer = served.post(
        "/ingest/demo",
        **signed_ingest(
            {"activities": [_call("c1"), _call("c2", started_at="2026-10-28T10:00:00Z", ended_at=None)]}, msg_id="msg_1"
        ),
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"status": "accepted", "webhook_id": "msg_1", "accepted": 2, "rejected": []}
    assert wait_for(lambda: len(_captured(served, "c1", "c2")) == 2)
    keys = {e.activity_key for e in served.store.entries("demo")}
    assert {("phone", "c1"), ("phone", "c2")} <= keys
    assert served.worker.wait_idle(5)
    metrics = served.metrics()
    assert 'billsync_ingest_requests_total{outcome="accepted"} 1.0' in metrics
    assert 'billsync_activities_captured_total{status="captured"} 2.0' in metrics


def test_replayed_webhook_id_is_ignored(served: ServedFirm) -> None:
    first = served.post("/ingest/demo", **signed_ingest({"activities": [_call("r1")]}, msg_id="msg_r"))
    assert first.status_code == 202
    assert wait_for(lambda: len(_captured(served, "r1")) == 1)
    # Same id, new timestamp, valid signature, different content: processed once only.
    replay = served.post(
        "/ingest/demo", **signed_ingest({"activities": [_call("r2")]}, msg_id="msg_r", timestamp=int(time.time()) + 5)
    )
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert served.worker.wait_idle(5)
    assert _captured(served, "r2") == set()


def test_stale_or_future_timestamp_is_401_and_nothing_is_stored(served: ServedFirm) -> None:
    now = int(time.time())
    for offset in (-301, 301):
        answer = served.post(
            "/ingest/demo", **signed_ingest({"activities": [_call("s1")]}, msg_id=f"m{offset}", timestamp=now + offset)
        )
        assert answer.status_code == 401, offset
        assert "timestamp" in answer.json()["error"]
    assert served.worker.wait_idle(5) and _captured(served, "s1") == set()


def test_bad_signature_or_missing_headers_is_401(served: ServedFirm) -> None:
    forged = signed_ingest({"activities": [_call("b1")]}, msg_id="msg_b", key=b"not the key")
    assert served.post("/ingest/demo", **forged).status_code == 401
    tampered = signed_ingest({"activities": [_call("b1")]}, msg_id="msg_b")
    tampered["data"] = tampered["data"].replace(b"b1", b"b2")
    assert served.post("/ingest/demo", **tampered).status_code == 401
    bare = served.post("/ingest/demo", json={"activities": [_call("b1")]})
    assert bare.status_code == 401 and bare.json() == {
        "error": "missing webhook-id, webhook-timestamp or webhook-signature header"
    }
    # A forged request must not burn the id: the real one with the same id still goes through.
    assert (
        served.post("/ingest/demo", **signed_ingest({"activities": [_call("b1")]}, msg_id="msg_b")).status_code == 202
    )
    assert wait_for(lambda: _captured(served, "b1") == {("phone", "b1")})
    assert _captured(served, "b2") == set()


def test_bad_record_is_reported_and_the_rest_captured(served: ServedFirm) -> None:
    batch = {
        "activities": [_call("g1"), _call("g2", kind="fax"), "nope", _call("g3", started_at="2026-10-27T09:00:00")]
    }
    answer = served.post("/ingest/demo", **signed_ingest(batch, msg_id="msg_g"))
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 1
    assert [(p["index"], p["field"]) for p in body["rejected"]] == [(1, "kind"), (2, ""), (3, "started_at")]
    assert "privileged" not in answer.text
    assert wait_for(lambda: _captured(served, "g1") == {("phone", "g1")})
    assert _captured(served, "g2", "g3") == set()
    every_bad = served.post("/ingest/demo", **signed_ingest({"activities": [_call("g4", kind="fax")]}, msg_id="msg_h"))
    assert every_bad.status_code == 422 and every_bad.json()["rejected"][0]["field"] == "kind"


def test_malformed_deep_wrong_type_and_oversize_bodies_are_4xx(served: ServedFirm) -> None:
    cases = {
        "malformed": (signed_ingest(b'{"activities": [', msg_id="x1"), 400),
        "deep": (signed_ingest(b'{"activities": ' + b"[" * 40 + b"]" * 40 + b"}", msg_id="x2"), 400),
        "very deep": (signed_ingest(b"[" * 200_000 + b"]" * 200_000, msg_id="x3"), 400),
        "not a batch": (signed_ingest({"records": []}, msg_id="x4"), 422),
        "not an object": (signed_ingest([1, 2], msg_id="x5"), 422),
        "not utf-8": (signed_ingest(b"\xff\xfe{}", msg_id="x6"), 400),
    }
    for name, (kwargs, status) in cases.items():
        answer = served.post("/ingest/demo", **kwargs)
        assert answer.status_code == status, (name, answer.text)
        assert set(answer.json()) == {"error"}, name
    wrong_type = signed_ingest({"activities": []}, msg_id="x7")
    wrong_type["headers"]["content-type"] = "text/plain"
    assert served.post("/ingest/demo", **wrong_type).status_code == 415
    big = signed_ingest(b"[" + b" " * (1024 * 1024) + b"]", msg_id="x8")
    assert served.post("/ingest/demo", **big).status_code == 413


def test_an_unknown_firm_or_one_without_a_secret_answers_as_a_bad_signature_does(served: ServedFirm) -> None:
    """Firm ids are not probeable through /ingest either: no endpoint looks like a batch signed with another key."""
    other_key = bytes(range(1, 33))
    bad = served.post("/ingest/demo", **signed_ingest({"activities": []}, msg_id="n0", key=other_key))
    assert bad.status_code == 401 and bad.json() == {"error": "no valid webhook-signature"}
    for firm in ("nobody", "demo-2"):
        answer = served.post(f"/ingest/{firm}", **signed_ingest({"activities": []}, msg_id="n1"))
        assert (answer.status_code, answer.json()) == (401, {"error": "no valid webhook-signature"})
    unsigned = [served.post(f"/ingest/{firm}", json={"activities": []}) for firm in ("demo", "nobody")]
    assert {(a.status_code, a.content) for a in unsigned} == {
        (401, b'{"error":"missing webhook-id, webhook-timestamp or webhook-signature header"}')
    }
    settings = with_ingest_secret(served.settings, "demo", None)
    runtime = dataclasses.replace(served.runtime, settings=settings.firms["demo"])
    worker = BackgroundWork()
    port, stop = run_in_thread(build_app({"demo": runtime}, settings=settings, worker=worker))
    try:
        answer = requests.post(
            f"http://127.0.0.1:{port}/ingest/demo", timeout=5, **signed_ingest({"activities": []}, msg_id="n2")
        )
        assert (answer.status_code, answer.json()) == (401, {"error": "no valid webhook-signature"})
    finally:
        stop()
        worker.close()
