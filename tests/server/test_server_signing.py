"""Standard Webhooks verification, ported from the reference library's test list."""

from __future__ import annotations

import pytest

from core.errors import ConfigError, InvalidSignature
from core.server.signing import secret_key, sign, verify

# The spec's known-answer vector (reliability.md §2).
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


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!", "whsec_abc"])
def test_malformed_secret_is_a_config_error(secret: str) -> None:
    with pytest.raises(ConfigError):
        secret_key(secret)
