"""Standard Webhooks verification, ported from the reference library's test list, and checked against it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from core.errors import ConfigError, InvalidSignature
from core.ingest_secret import secret_key
from core.server.signing import sign, verify

# The spec's known-answer vector (docs/reliability.md §2).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(signature: str = EXPECTED, stamp: int = STAMP, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_known_answer_vector_with_and_without_prefix() -> None:
    assert sign(secret_key(SECRET), MSG_ID, STAMP, BODY) == EXPECTED
    assert secret_key(SECRET) == secret_key(SECRET.removeprefix("whsec_"))
    assert verify(secret_key(SECRET), _headers(), BODY, now=STAMP) == MSG_ID


def test_multiple_signatures_with_decoys() -> None:
    header = f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc {EXPECTED} v1,"
    assert verify(secret_key(SECRET), _headers(header), BODY, now=STAMP) == MSG_ID


@pytest.mark.parametrize("now", [STAMP + 301, STAMP - 301])
def test_one_second_outside_the_tolerance(now: int) -> None:
    with pytest.raises(InvalidSignature, match="timestamp"):
        verify(secret_key(SECRET), _headers(), BODY, now=now)
    assert verify(secret_key(SECRET), _headers(), BODY, now=now - 1 if now > STAMP else now + 1) == MSG_ID


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-timestamp": str(STAMP), "webhook-signature": EXPECTED},
        {"webhook-id": MSG_ID, "webhook-signature": EXPECTED},
        {"webhook-id": MSG_ID, "webhook-timestamp": str(STAMP)},
        _headers(stamp=0) | {"webhook-timestamp": "soon"},
        _headers(signature="v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
        _headers(signature=EXPECTED.replace("v1,", "v2,")),
        _headers(msg_id="x" * 256),
    ],
)
def test_rejections(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature):
        verify(secret_key(SECRET), headers, BODY, now=STAMP)


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        verify(secret_key(SECRET), _headers(), BODY + b" ", now=STAMP)


# Secrets as firms write them: the reference library reads each one, or refuses it.
ACCEPTED = [
    SECRET,
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw==",  # needless padding
    "whsec_c2VjcmV0LWtleQ",  # unpadded base64 ("secret-key"): what the library itself pads
    "whsec_YWJj-_",  # URL-safe characters are skipped, as the library skips them
    "c2VjcmV0LWtleQ",  # no prefix
    "correct horse",  # a passphrase whose letters happen to decode: the library takes it, so do we
]
REFUSED = [
    "whsec_",  # empty
    "whsec_!!!",  # decodes to nothing
    "whsec_abcde",  # one character too many for base64
    "whsec_not base64!",
    "correct horse battery staple",  # a passphrase the library refuses
]


@pytest.mark.parametrize("secret", ACCEPTED)
def test_a_secret_the_reference_library_reads_gives_its_key(secret: str) -> None:
    """A message the reference library signs with this secret verifies with ours (same key)."""
    signed_at = datetime.fromtimestamp(STAMP, UTC)
    signature = Webhook(secret).sign(MSG_ID, signed_at, BODY.decode())
    assert verify(secret_key(secret), _headers(signature), BODY, now=STAMP) == MSG_ID
    assert sign(secret_key(secret), MSG_ID, STAMP, BODY) == signature


@pytest.mark.parametrize("secret", REFUSED)
def test_a_secret_the_reference_library_refuses_is_a_config_error(secret: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the library raises binascii.Error or its own error
        Webhook(secret)
    with pytest.raises(ConfigError):
        secret_key(secret)
