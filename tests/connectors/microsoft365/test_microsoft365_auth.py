"""Settings and msal: one credential, tenant-specific authority, certificates, the token cache."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr, ValidationError

from connectors.microsoft365.auth import GraphAuth
from connectors.microsoft365.connector import Microsoft365Connector
from core.errors import AuthFailed
from tests.connectors.microsoft365.harness import make_env

Settings = Microsoft365Connector.Settings


def test_settings_need_exactly_one_credential_and_a_tenant() -> None:
    base = {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app"}
    Settings(**base, client_secret=SecretStr("s"))
    with pytest.raises(ValidationError, match="either client_secret"):
        Settings(**base)
    with pytest.raises(ValidationError, match="either client_secret"):
        Settings(
            **base, client_secret=SecretStr("s"), certificate_private_key=SecretStr("k"), certificate_thumbprint="T"
        )
    with pytest.raises(ValidationError, match="both"):
        Settings(**base, certificate_private_key=SecretStr("k"))
    with pytest.raises(ValidationError, match="tenant-specific"):
        Settings(tenant_id="common", client_id="app", client_secret=SecretStr("s"))
    with pytest.raises(ValidationError, match="https"):
        Settings(**base, client_secret=SecretStr("s"), graph_base_url="http://graph.example.com/v1.0")
    assert Settings(**base, client_secret=SecretStr("s")).scope == "https://graph.microsoft.com/.default"


def test_plain_http_authorities_only_on_loopback() -> None:
    def make(host):
        return GraphAuth(
            tenant_id="t",
            client_id="c",
            credential="s",
            authority_host=host,
            scope="https://graph.microsoft.com/.default",
        )

    assert make("https://login.microsoftonline.us").authority == "https://login.microsoftonline.us/t"
    assert make("http://127.0.0.1:8700/microsoft365/login").authority == "https://127.0.0.1:8700/microsoft365/login/t"
    with pytest.raises(ValueError, match="loopback"):
        make("http://login.example.com")


def test_msal_caches_the_app_token_so_entra_is_asked_once() -> None:
    env = make_env()
    env.connector.check()
    for name in ("calendar_events", "sent_mail", "teams_calls"):
        env.read_all(name)
    token_requests = [r for r in env.admin("GET", "requests") if r["path"].endswith("/oauth2/v2.0/token")]
    assert len(token_requests) == 1


def test_revoked_consent_fails_check_with_a_clear_message() -> None:
    env = make_env()
    env.connector.check()
    env.admin("POST", "consent/revoke")
    with pytest.raises(AuthFailed, match="invalid_client"):
        env.connector.check()


def test_a_certificate_credential_signs_a_client_assertion_entra_accepts() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "billsync-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    env = make_env(certificate_pem=pem_cert)
    env.connector.auth._credential = {"private_key": pem_key, "thumbprint": thumbprint}
    env.connector.check()  # the sandbox verified the assertion's signature with the certificate
    env.connector.auth._credential = {
        "private_key": rsa.generate_private_key(65537, 2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode(),
        "thumbprint": thumbprint,
    }
    env.connector.auth.forget()
    with pytest.raises(AuthFailed):
        env.connector.check()  # a key that does not match the registered certificate
