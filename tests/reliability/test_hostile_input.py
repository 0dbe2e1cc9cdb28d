"""Hostile input: fuzzed webhook and ingest requests against the daemon's real app and store.

Hypothesis throws random bodies (bytes, text, JSON of any shape), random and forged headers and
random paths at `POST /hooks/{connector}/{firm}` and `POST /ingest/{firm}` of the app `billsync
run` serves (core/server/app.py), over a real SQLite store whose users, clients and matters carry
the hostile names of tests/reliability/firms.py. Whatever arrives:

- the answer is never a 5xx;
- an unsigned (or wrongly signed) request stores nothing: every table keeps its row count;
- oversized bodies get 413 and JSON nested past the limit gets 400;
- a correctly signed batch with bad records gets a per-record list of problems (index, field,
  error) and its good records are still captured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import string
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, inspect, select, table

from core.server import BackgroundWork, build_app
from core.server.body import MAX_BODY_BYTES, MAX_JSON_DEPTH
from core.server.signing import sign
from core.tokens import Subscription
from tests.reliability.conftest import report_figures, scale
from tests.reliability.firms import CLIO, FIRM, SandboxFirm

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.reliability

INGEST_KEY = bytes(range(7, 39))
INGEST_SECRET = "whsec_" + base64.b64encode(INGEST_KEY).decode()
CLIO_HOOK_SECRET = "clio-hook-secret-for-fuzzing"
CASES: dict[str, int] = {}
BATCH_IDS = itertools.count(1)


class Target:
    """The daemon's app over a real store for one Clio firm; webhooks subscribed, ingest on."""

    def __init__(self, tmp: Path) -> None:
        self.firm = SandboxFirm(tmp, CLIO, activities=10, hostile_names=True)
        self.firm.sync_until_settled()
        runtime = self.firm.runtime
        runtime.settings = runtime.settings.model_copy(update={"ingest_secret": SecretStr(INGEST_SECRET)})
        settings = self.firm.settings.model_copy(
            update={"firms": {**self.firm.settings.firms, FIRM: runtime.settings}}
        )
        # A subscription whose secret we know, so forged signatures are tried against a real one.
        subscription = Subscription("1", datetime.now(UTC) + timedelta(days=30), json.dumps({"1": CLIO_HOOK_SECRET}))
        runtime.tokens.save_subscription(FIRM, "clio", subscription)
        self.rang: list[frozenset[str]] = []  # verified deliveries ring this instead of polling
        self.worker = BackgroundWork()
        app = build_app(
            {FIRM: runtime}, settings=settings, worker=self.worker, doorbell=lambda _f, s: self.rang.append(s)
        )
        self.client = TestClient(app, raise_server_exceptions=False)
        names = inspect(self.firm.store.engine).get_table_names()
        self._tables = [table(name) for name in names]

    def rows(self) -> dict[str, int]:
        """Row count of every table in the database."""
        with self.firm.store.engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in self._tables}

    def close(self) -> None:
        self.client.close()
        self.worker.close(timeout=5)
        self.firm.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    t = Target(tmp_path_factory.mktemp("hostile"))
    yield t
    t.close()
    report_figures("hostile-input", cases=sum(CASES.values()), **CASES)


def examples(short: int, full: int) -> settings:
    return settings(
        max_examples=scale(short, full),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


def count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


# Strategies -----------------------------------------------------------------------------------

# Raw header bytes: any printable text, UTF-8 included (no CR/LF: those end a header in HTTP itself).
header_text = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c") + "éü€", max_size=80).map(str.encode)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda acts: json.dumps({"activities": acts}).encode(), st.lists(json_values, max_size=5)),
    st.builds(
        lambda meta, data: json.dumps({"meta": meta, "data": data}).encode(),
        st.dictionaries(st.sampled_from(["webhook_id", "event", "delivery_id"]), json_values, max_size=3),
        json_values,
    ),
)
hook_headers = st.dictionaries(
    st.sampled_from(
        [
            "x-hook-signature",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "content-type",
            "x-forwarded-for",
            "authorization",
            "x-unknown",
        ]
    ),
    header_text,
    max_size=6,
)


def forged_ingest_headers(body: bytes, msg_id: str, mode: str) -> dict[str, str]:
    """Standard Webhooks headers that look right but are not: wrong key, wrong stamp, wrong body."""
    now = int(time.time())
    if mode == "wrong_key":
        signature = sign(b"not-the-key", msg_id, now, body)
    elif mode == "stale":
        signature = sign(INGEST_KEY, msg_id, now - 3600, body)
        now -= 3600
    elif mode == "other_body":
        signature = sign(INGEST_KEY, msg_id, now, body + b" ")
    elif mode == "future":
        signature = sign(INGEST_KEY, msg_id, now + 3600, body)
        now += 3600
    else:  # "v2": the right HMAC under a version the verifier must skip
        signature = "v2," + sign(INGEST_KEY, msg_id, now, body).removeprefix("v1,")
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(now),
            "webhook-signature": signature}


def clio_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Unsigned and forged requests -----------------------------------------------------------------


@examples(200, 4000)
@given(body=bodies, headers=hook_headers, connector=st.sampled_from(["clio", "practicepanther", "x", "..%2f"]),
       firm=st.sampled_from([FIRM, "other", "demo%00"]))
def test_unsigned_webhooks_get_no_5xx_and_store_nothing(target: Target, body: bytes, headers: dict[str, Any],
                                                        connector: str, firm: str) -> None:
    headers = {k: v for k, v in headers.items() if k != "x-hook-secret"}  # a handshake stores nothing either
    before = target.rows()
    answer = target.client.post(f"/hooks/{connector}/{firm}", content=body, headers=headers)
    count("unsigned_webhooks")
    assert answer.status_code < 500, answer.text
    if connector == "clio" and firm == FIRM:
        assert answer.status_code == 401, answer.text  # never verified: no signature is right by chance
    assert target.rows() == before


@examples(200, 4000)
@given(body=bodies, headers=hook_headers, firm=st.sampled_from([FIRM, "other"]),
       forgery=st.sampled_from(["none", "wrong_key", "stale", "other_body", "future", "v2"]),
       msg_id=st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=40))
def test_unsigned_or_forged_ingest_gets_no_5xx_and_stores_nothing(target: Target, body: bytes, headers: dict[str, Any],
                                                                  firm: str, forgery: str, msg_id: str) -> None:
    if forgery != "none":
        headers = forged_ingest_headers(body, msg_id, forgery)
    before = target.rows()
    answer = target.client.post(f"/ingest/{firm}", content=body, headers=headers)
    count("unsigned_or_forged_ingest")
    assert answer.status_code < 500, answer.text
    if firm == FIRM:
        assert answer.status_code == 401, answer.text
    assert target.rows() == before
    assert target.worker.wait_idle(5)


@examples(100, 1500)
@given(body=bodies, secret=st.sampled_from(["wrong", CLIO_HOOK_SECRET[:-1], ""]))
def test_clio_deliveries_signed_with_another_secret_store_nothing(target: Target, body: bytes, secret: str) -> None:
    before = target.rows()
    answer = target.client.post(f"/hooks/clio/{FIRM}", content=body,
                                headers={"x-hook-signature": clio_signature(secret, body)})
    count("forged_clio_signatures")
    assert answer.status_code == 401, answer.text
    assert target.rows() == before


# Signed but hostile ---------------------------------------------------------------------------


@examples(100, 1500)
@given(body=bodies)
def test_signed_clio_deliveries_of_any_shape_get_no_5xx(target: Target, body: bytes) -> None:
    answer = target.client.post(f"/hooks/clio/{FIRM}", content=body,
                                headers={"x-hook-signature": clio_signature(CLIO_HOOK_SECRET, body)})
    count("signed_clio_deliveries")
    assert answer.status_code in (200, 401), answer.text  # 401: verified bytes, but not a JSON object


record_fields = st.fixed_dictionaries(
    {},
    optional={
        "source": st.one_of(st.text(max_size=70), st.integers(), st.none()),
        "external_id": st.one_of(st.text(max_size=300), st.integers(), st.lists(st.integers(), max_size=2)),
        "kind": st.one_of(st.sampled_from(["call", "email", "meeting", "text", "telepathy", ""]), st.integers()),
        "actor": st.one_of(st.text(max_size=20), st.none(), st.booleans()),
        "started_at": st.one_of(st.sampled_from(["2026-10-29T16:00:00Z", "2026-10-29T16:00:00", "yesterday",
                                                 "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]), st.integers()),
        "ended_at": st.one_of(st.none(), st.sampled_from(["2026-10-29T15:00:00Z", "2026-10-29T17:00:00Z"])),
        "duration_seconds": st.one_of(st.integers(min_value=-10**12, max_value=10**12), st.floats(allow_nan=True),
                                      st.text(max_size=5)),
        "title": st.text(max_size=600),
        "matter_id": st.one_of(st.none(), st.text(max_size=10), st.integers()),
        "custom_rate": st.one_of(st.none(), st.sampled_from(["-1", "1e400", "NaN", "350.00"]), st.floats()),
        "body": st.text(max_size=50),
    },
)


@examples(100, 1500)
@given(records=st.lists(st.one_of(record_fields, json_values), min_size=1, max_size=8))
def test_signed_ingest_with_bad_records_reports_each_and_keeps_the_good(target: Target, records: list[Any]) -> None:
    msg_id = f"msg_{next(BATCH_IDS)}"  # fresh per example: a reused id is (rightly) a duplicate
    good = {
        "source": "phone",
        "external_id": msg_id,
        "kind": "call",
        "actor": "fuzz@firm.example",
        "started_at": "2026-10-29T16:00:00Z",
        "ended_at": "2026-10-29T16:20:00Z",
        "title": "call",
    }
    batch = [*records, good]
    body = json.dumps({"activities": batch}, allow_nan=True).encode()
    stamp = int(time.time())
    headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(stamp),
               "webhook-signature": sign(INGEST_KEY, msg_id, stamp, body)}
    answer = target.client.post(f"/ingest/{FIRM}", content=body, headers=headers)
    count("signed_ingest_batches")
    assert answer.status_code in (202, 400), answer.text  # 400: NaN/Infinity is not JSON to every parser
    if answer.status_code == 400:
        return
    result = answer.json()
    assert result["accepted"] >= 1  # the good record always goes through
    for problem in result["rejected"]:
        assert set(problem) == {"index", "field", "error"} and 0 <= problem["index"] < len(batch) - 1
        assert problem["error"]
    assert target.worker.wait_idle(10)
    assert target.firm.store.known_activities(FIRM, [("phone", msg_id)])


# Size and depth limits ------------------------------------------------------------------------


def test_oversized_and_deeply_nested_bodies_are_rejected(target: Target) -> None:
    before = target.rows()
    huge = b"{" + b" " * MAX_BODY_BYTES + b"}"
    deep = ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)).encode()
    very_deep = ("[" * 100_000 + "]" * 100_000).encode()
    deep_object = ('{"activities":' * 40 + "[]" + "}" * 40).encode()
    stamp = int(time.time())

    def signed(body: bytes, msg_id: str) -> dict[str, str]:
        return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(stamp),
                "webhook-signature": sign(INGEST_KEY, msg_id, stamp, body)}

    assert target.client.post(f"/ingest/{FIRM}", content=huge, headers=signed(huge, "big")).status_code == 413
    assert target.client.post(f"/hooks/clio/{FIRM}", content=huge).status_code == 413
    for name, body in (("deep", deep), ("very_deep", very_deep), ("deep_object", deep_object)):
        answer = target.client.post(f"/ingest/{FIRM}", content=body, headers=signed(body, name))
        assert answer.status_code == 400, (name, answer.text)
        unsigned_hook = target.client.post(f"/hooks/clio/{FIRM}", content=body, headers={"x-hook-signature": "0"})
        assert unsigned_hook.status_code == 401
    # A chunked upload declares no length: it is cut off at the limit all the same.
    chunks = (b"x" * 65536 for _ in range(MAX_BODY_BYTES // 65536 + 2))
    assert target.client.post(f"/ingest/{FIRM}", content=chunks, headers=signed(b"", "chunked")).status_code == 413
    count("size_and_depth_limits")
    assert target.rows() == before


def test_a_signed_but_absurdly_nested_clio_delivery_is_rejected_not_503(target: Target) -> None:
    body = ("[" * 100_000 + "]" * 100_000).encode()
    answer = target.client.post(
        f"/hooks/clio/{FIRM}", content=body, headers={"x-hook-signature": clio_signature(CLIO_HOOK_SECRET, body)}
    )
    count("size_and_depth_limits")
    assert answer.status_code in (400, 401), answer.text
