"""The ingest endpoint's Standard Webhooks check, judged by the reference library (`standardwebhooks`).

Standard Webhooks signatures are used in one place only: the generic ingest endpoint
(core/server/signing.py). No sandbox sends them: Clio's deliveries are signed with X-Hook-Signature
and Graph's carry a clientState. test_server_signing.py checks the secret reading and the known-answer
vector; here the same message goes to both verifiers, and they must agree on every ordinary case.
Where billsync is deliberately stricter, the test says so case by case. Last, a batch the library
signs is taken by the running endpoint, in process (the e2e test does the same through `billsync run`).
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.errors import InvalidSignature
from core.ingest_secret import secret_key
from core.server.signing import sign, verify
from tests.server.conftest import INGEST_SECRET, ServedFirm

SECRET = "whsec_" + base64.b64encode(b"reference-library-key-0123456789").decode()
OTHER = "whsec_" + base64.b64encode(b"some-other-firms-key-0123456789!").decode()
MSG_ID = "msg_2c9f"
BODY = b'{"activities": []}'


def _headers(stamp: int, signature: str, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def _reference_signature(secret: str, stamp: int, body: bytes = BODY, msg_id: str = MSG_ID) -> str:
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body.decode())


def _ours_accepts(headers: dict[str, str], body: bytes, now: int) -> bool:
    try:
        verify(secret_key(SECRET), headers, body, now=now)
    except InvalidSignature:
        return False
    return True


def _reference_accepts(headers: dict[str, str], body: bytes) -> bool:
    try:
        Webhook(SECRET).verify(body, headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


# (case, how far the stamp is from now, signature for (stamp, body) -> header value, body sent, accepted?)
# Stamps stay 10 s clear of the 5-minute edges: the library reads the clock itself, a moment later.
CASES = [
    ("signed by the library", 0, lambda s: _reference_signature(SECRET, s), BODY, True),
    ("signed by billsync", 0, lambda s: sign(secret_key(SECRET), MSG_ID, s, BODY), BODY, True),
    ("signed 290 s ago", -290, lambda s: _reference_signature(SECRET, s), BODY, True),
    ("stamped 290 s ahead", 290, lambda s: _reference_signature(SECRET, s), BODY, True),
    ("signed 310 s ago", -310, lambda s: _reference_signature(SECRET, s), BODY, False),
    ("stamped 310 s ahead", 310, lambda s: _reference_signature(SECRET, s), BODY, False),
    ("another firm's key", 0, lambda s: _reference_signature(OTHER, s), BODY, False),
    ("a changed body", 0, lambda s: _reference_signature(SECRET, s), BODY + b" ", False),
    (
        "a rotation: an old key's signature, a v2 one, then the current",
        0,
        lambda s: f"{_reference_signature(OTHER, s)} v2,abc {_reference_signature(SECRET, s)}",
        BODY,
        True,
    ),
    ("only a v2 signature", 0, lambda s: _reference_signature(SECRET, s).replace("v1,", "v2,"), BODY, False),
]


@pytest.mark.parametrize(("case", "offset", "signature", "body", "accepted"), CASES, ids=[c[0] for c in CASES])
def test_billsync_and_the_reference_library_agree(case, offset, signature, body, accepted) -> None:
    now = int(time.time())
    headers = _headers(now + offset, signature(now + offset))
    assert _reference_accepts(headers, body) is accepted, case
    assert _ours_accepts(headers, body, now) is accepted, case


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused_by_both(missing: str) -> None:
    now = int(time.time())
    headers = _headers(now, _reference_signature(SECRET, now))
    del headers[missing]
    assert not _reference_accepts(headers, BODY)
    assert not _ours_accepts(headers, BODY, now)


def test_where_billsync_is_stricter_than_the_library() -> None:
    """Each of these the library takes (or crashes on); billsync refuses it as a bad signature."""
    now = int(time.time())
    long_id = "m" * 256  # longer than the dedupe table's column
    too_long = _headers(now, _reference_signature(SECRET, now, msg_id=long_id), msg_id=long_id)
    assert _reference_accepts(too_long, BODY)
    assert not _ours_accepts(too_long, BODY, now)

    fractional = _headers(now, _reference_signature(SECRET, now)) | {"webhook-timestamp": f"{now}.0"}
    assert _reference_accepts(fractional, BODY)  # the library reads the stamp as a float
    assert not _ours_accepts(fractional, BODY, now)  # the spec's stamp is whole seconds

    decoy = _headers(now, f"garbage {_reference_signature(SECRET, now)}")
    with pytest.raises(ValueError):  # the library unpacks every candidate as "version,signature"
        Webhook(SECRET).verify(BODY, decoy, json_parse=False)
    assert _ours_accepts(decoy, BODY, now)  # billsync skips what is not a v1 signature


def test_a_batch_the_library_signs_is_taken_by_the_endpoint(served: ServedFirm) -> None:
    """The running ingest endpoint, with the firm's own secret, takes what the library signs for it."""
    now = int(time.time())
    signature = Webhook(INGEST_SECRET).sign("msg_reference", datetime.fromtimestamp(now, UTC), BODY.decode())
    headers = {"content-type": "application/json", **_headers(now, signature, msg_id="msg_reference")}
    answer = served.post("/ingest/demo", data=BODY, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["webhook_id"] == "msg_reference"

    forged = headers | {"webhook-signature": Webhook(OTHER).sign("msg_forged", datetime.fromtimestamp(now, UTC), "")}
    refused = served.post("/ingest/demo", data=BODY, headers=forged | {"webhook-id": "msg_forged"})
    assert refused.status_code == 401, refused.text
