"""How Entra signs the app in: its OpenID configuration and the client-credentials token endpoint.

The app proves itself with its client secret or a certificate-signed client assertion; the access
tokens it gets are kept by the sandbox's state (Microsoft365Sandbox.issue_token / authenticate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import jwt
from cryptography.x509 import load_pem_x509_certificate
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from billsync_sandboxes.microsoft365.state import Microsoft365Sandbox


def add_entra_routes(app: FastAPI, sandbox: Microsoft365Sandbox) -> None:
    """Entra at /login/{tenant}/...: the OpenID configuration msal reads first, then the token endpoint."""

    @app.get("/login/{tenant}/v2.0/.well-known/openid-configuration")
    def openid_configuration(tenant: str, request: Request) -> Response:
        if tenant != sandbox.tenant_id:
            return JSONResponse(
                {"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."},
                status_code=400,
            )
        # Entra always advertises https endpoints; msal requires them.
        root = f"https://{request.url.netloc}{request.scope.get('root_path', '')}/login/{tenant}"
        return JSONResponse(
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "issuer": f"{root}/v2.0",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "tenant_region_scope": "NA",
            }
        )

    @app.post("/login/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> Response:
        # application/x-www-form-urlencoded, parsed by hand (no multipart dependency needed).
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        root = f"https://{request.url.netloc}{request.scope.get('root_path', '')}/login/{tenant}"
        return _token_answer(sandbox, tenant, form, f"{root}/oauth2/v2.0/token")


def _token_answer(sandbox: Microsoft365Sandbox, tenant: str, form: Mapping[str, str], audience: str) -> Response:
    def refuse(status: int, error: str, description: str) -> Response:
        return JSONResponse(
            {
                "error": error,
                "error_description": description,
                "error_codes": [],
                "correlation_id": "00000000-0000-0000-0000-000000000000",
            },
            status_code=status,
        )

    if tenant != sandbox.tenant_id:
        return refuse(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
    if form.get("grant_type") != "client_credentials":
        return refuse(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
    if not str(form.get("scope", "")).endswith("/.default"):
        return refuse(
            400,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. Client "
            "credential flows must have a scope value with /.default suffixed to the resource identifier.",
        )
    if form.get("client_id") != sandbox.client_id:
        return refuse(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application '{form.get('client_id')}' was not found in the directory.",
        )
    if sandbox.revoked or not _client_authenticated(sandbox, form, audience):
        return refuse(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret "
            "being sent in the request is the client secret value, not the client secret ID.",
        )
    return JSONResponse(sandbox.issue_token(sandbox.client_id))


def _client_authenticated(sandbox: Microsoft365Sandbox, form: Mapping[str, str], audience: str) -> bool:
    if "client_secret" in form:
        return form["client_secret"] == sandbox.client_secret
    assertion = form.get("client_assertion")
    if assertion and sandbox.certificate_pem and form.get("client_assertion_type", "").endswith("jwt-bearer"):
        key = load_pem_x509_certificate(sandbox.certificate_pem.encode()).public_key()
        try:
            claims = jwt.decode(assertion, key, algorithms=["RS256", "PS256"], audience=audience)  # type: ignore[arg-type]
        except jwt.PyJWTError:
            return False
        return bool(claims.get("iss") == claims.get("sub") == sandbox.client_id)
    return False


