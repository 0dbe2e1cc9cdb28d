"""The HTTP face of the Clio sandbox: /oauth/* and /api/v4/* (mounted at /clio)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from billsync_sandboxes.clio.api.billing import patch_bill
from billsync_sandboxes.clio.api.fields import parse_fields
from billsync_sandboxes.clio.api.query import paginate, select
from billsync_sandboxes.clio.api.resources import (
    ACTIVITIES,
    BILLING_SETTINGS,
    BILLS,
    LISTED,
    USERS,
    WEBHOOKS,
    Resource,
)
from billsync_sandboxes.clio.auth import AccessToken
from billsync_sandboxes.clio.errors import (
    ClioError,
    OAuthError,
    bad_request,
    not_found,
    not_simulated,
    precondition_failed,
)
from billsync_sandboxes.kit import (
    FaultKind,
    FaultRule,
    Record,
    TruncatedResponse,
    connection_fault,
    note,
    parse_timestamp,
)
from billsync_sandboxes.kit.apps import build_logged_api_app

if TYPE_CHECKING:
    from billsync_sandboxes.clio.state import ClioSandbox

# docs/vendors/clio.md §2 "API versioning": 4.0.13 is the default; quantity is in seconds from 4.0.4.
DEFAULT_API_VERSION = "4.0.13"
SUPPORTED_API_VERSIONS = frozenset(f"4.0.{minor}" for minor in range(4, 14))


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated API request, as the handlers need it."""

    request: Request
    method: str
    segments: tuple[str, ...]
    body: bytes
    token: AccessToken

    def data(self) -> Mapping[str, Any]:
        """Return the `data` object of a JSON write body (docs/vendors/clio.md §2)."""
        try:
            payload = json.loads(self.body or b"null")
        except ValueError:
            raise bad_request("The request body is not valid JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise bad_request('The request body must be {"data": {...}}')
        data: Mapping[str, Any] = payload["data"]
        return data


def build_api_app(sandbox: ClioSandbox) -> FastAPI:
    """Build the app serving Clio's OAuth and REST endpoints."""
    app = build_logged_api_app(sandbox.request_log, sandbox.clock)
    app.add_exception_handler(HTTPException, _unrouted)
    api = _Api(sandbox)

    @app.get("/oauth/authorize")
    def authorize(request: Request) -> Response:
        return api.authorize(request)

    @app.post("/oauth/token")
    async def token(request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(api.token, request, body)

    @app.post("/oauth/deauthorize")
    async def deauthorize(request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(api.deauthorize, request, body)

    @app.api_route("/api/v4/{path:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    async def rest(path: str, request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(api.handle, request, path, body)

    return app


async def _unrouted(request: Request, exc: Exception) -> Response:
    """A path or method with no route: 404 in Clio's Error shape (docs/vendors/clio.md §2), not FastAPI's {"detail"}.

    No handler here raises HTTPException, so only the router gets here, with 404 (no such path) or
    405 (a path without that method). Clio's Rails router answers both with 404, as /api/v4 does.
    """
    assert isinstance(exc, HTTPException)
    path = request.url.path.removeprefix(str(request.scope.get("root_path", "")))  # as Clio sees it
    error = not_found(f"No route matches {request.method} {path}")
    return JSONResponse(error.body(), status_code=error.status)


class _Api:
    """Authentication, rate limiting, faults and routing for /api/v4."""

    def __init__(self, sandbox: ClioSandbox) -> None:
        self.sandbox = sandbox

    # -- OAuth (docs/vendors/clio.md §1) ----------------------------------------------------

    def authorize(self, request: Request) -> Response:
        """Auto-approve: redirect to redirect_uri with a code and the caller's state."""
        params = request.query_params
        redirect_uri = params.get("redirect_uri")
        if params.get("client_id") != self.sandbox.client_id or not redirect_uri:
            return _oauth_error(OAuthError(400, "invalid_client", "Unknown client_id"))
        if params.get("response_type") != "code":
            return _oauth_error(
                OAuthError(400, "unsupported_response_type", "response_type must be code")
            )
        with self.sandbox.lock:
            try:
                code = self.sandbox.tokens.authorize(self.sandbox.authorizing_user_id(), redirect_uri)
            except ClioError as error:  # e.g. a seed without users: say so, not a bare 500
                return JSONResponse(error.body(), status_code=error.status)
        query = {"code": code}
        if params.get("state") is not None:
            query["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)

    def token(self, request: Request, body: bytes) -> Response:
        """POST /oauth/token, form-encoded, for authorization_code and refresh_token grants."""
        form = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}
        try:
            self._check_client(form)
            with self.sandbox.lock:
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    issued = self.sandbox.tokens.exchange(
                        form.get("code", ""), form.get("redirect_uri")
                    )
                elif grant == "refresh_token":
                    issued = self.sandbox.tokens.refresh(form.get("refresh_token", ""))
                else:
                    raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
                note(request.scope, token_id=issued.token_id)
                return JSONResponse(self.sandbox.tokens.response(issued))
        except OAuthError as error:
            return _oauth_error(error)

    def deauthorize(self, request: Request, body: bytes) -> Response:
        """POST /oauth/deauthorize: revoke the app's tokens (parameters UNCONFIRMED)."""
        form = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}
        with self.sandbox.lock:
            try:
                current = self.sandbox.tokens.authenticate(request.headers.get("authorization"))
            except OAuthError as error:
                return _oauth_error(error)
            self.sandbox.tokens.revoke(form.get("token") or current.value)
        return Response(status_code=200)

    def _check_client(self, form: Mapping[str, str]) -> None:
        client_ok = hmac.compare_digest(form.get("client_id", ""), self.sandbox.client_id)
        secret_ok = hmac.compare_digest(form.get("client_secret", ""), self.sandbox.client_secret)
        if not (client_ok and secret_ok):
            raise OAuthError(
                401,
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication "
                "included, or unsupported authentication method.",
            )

    # -- /api/v4 ----------------------------------------------------------------------------

    def handle(self, request: Request, path: str, body: bytes) -> Response:
        """Authenticate, rate-limit, maybe inject a fault, then route."""
        with self.sandbox.lock:
            try:
                token = self.sandbox.tokens.authenticate(request.headers.get("authorization"))
            except OAuthError as error:
                return _oauth_error(error)
            note(request.scope, token_id=token.token_id)
            decision = self.sandbox.rate_limiter.hit(token.token_id)
            headers = decision.headers()
            if not decision.allowed:
                # docs/vendors/clio.md §2: the Manage 429 body is UNCONFIRMED; the spec's Error shape is used.
                refusal = ClioError(429, "RateLimited", "Too many requests; see Retry-After")
                return JSONResponse(refusal.body(), status_code=429, headers=headers)
            fault = self.sandbox.faults.pick(request.method, request.url.path, "/api/v4/" + path)
            if fault is not None:
                note(request.scope, fault=fault.kind.value)
                if fault.kind is not FaultKind.TRUNCATE:
                    return self._fault_response(fault, headers)
            response = self._answer(request, path, body, token)
            for name, value in headers.items():
                response.headers[name] = value
            if response.status_code < 400:
                response.headers["X-API-VERSION"] = (
                    request.headers.get("x-api-version") or DEFAULT_API_VERSION
                )
            response.background = BackgroundTask(self.sandbox.flush_webhooks)
            if fault is not None:  # only TRUNCATE gets this far: it needs the real answer
                return TruncatedResponse(response)
            return response

    def _answer(self, request: Request, path: str, body: bytes, token: AccessToken) -> Response:
        version = request.headers.get("x-api-version")
        try:
            if version is not None and version not in SUPPORTED_API_VERSIONS:
                # docs/vendors/clio.md §2: an invalid or retired X-API-VERSION gives 410 Gone.
                raise ClioError(410, "Gone", f"API version {version} is not supported")
            segments = tuple(part for part in path.split("/") if part)
            if segments:
                segments = (*segments[:-1], segments[-1].removesuffix(".json"))
            return self._route(Call(request, request.method, segments, body, token))
        except ClioError as error:
            return JSONResponse(error.body(), status_code=error.status)

    def _fault_response(self, fault: FaultRule, headers: Mapping[str, str]) -> Response:
        dropped = connection_fault(fault, self.sandbox.clock)
        if dropped is not None:
            return dropped
        status = fault.kind.status or 500
        extra = dict(headers)
        if status == 429:
            extra.update({"X-RateLimit-Remaining": "0", "Retry-After": str(fault.retry_after)})
        error = ClioError(status, f"SandboxFault{status}", "Injected fault")
        return JSONResponse(error.body(), status_code=status, headers=extra)

    def _route(self, call: Call) -> Response:
        segments, method = call.segments, call.method
        if segments == ("users", "who_am_i") and method == "GET":
            return self._show(call, USERS, call.token.user_id)
        if segments == ("settings", "billing") and method == "GET":
            settings = self.sandbox.collections[BILLING_SETTINGS.name].all()[0]
            return self._show(call, BILLING_SETTINGS, settings["id"])
        if len(segments) == 3 and segments[0] == "webhooks" and segments[2] == "activate":
            if method != "PUT":
                raise not_found()
            # docs/vendors/clio.md §3.16: the delayed handshake (prose only, not in the spec's paths).
            self.sandbox.webhooks.activate(segments[1], call.request.headers.get("x-hook-secret"))
            return Response(status_code=204)
        resource = LISTED.get("/".join(segments))
        if resource is not None:
            return self._collection(call, resource)
        resource = LISTED.get("/".join(segments[:-1])) if len(segments) > 1 else None
        if resource is not None:
            return self._member(call, resource, segments[-1])
        raise not_found(f"No route matches {method} /api/v4/{'/'.join(segments)}")

    def _collection(self, call: Call, resource: Resource) -> Response:
        if call.method == "GET":
            return self._list(call, resource)
        if call.method == "POST":
            self._check_write(call, resource)
            return self._create(call, resource)
        # Rails answers an unrouted method with 404, so POST /bills is a 404 (docs/vendors/clio.md §3.13).
        raise not_found(f"No route matches {call.method} /api/v4/{resource.path}")

    def _member(self, call: Call, resource: Resource, record_id: str) -> Response:
        if call.method == "GET":
            return self._show(call, resource, record_id)
        if call.method in ("PATCH", "DELETE"):
            self._check_write(call, resource)
            if call.method == "PATCH":
                return self._patch(call, resource, record_id)
            return self._delete(call, resource, record_id)
        raise not_found(f"No route matches {call.method} /api/v4/{resource.path}/{record_id}")

    def _check_write(self, call: Call, resource: Resource) -> None:
        if call.method in resource.not_simulated:
            raise not_simulated(call.method, f"/api/v4/{resource.path}")
        if resource.writes == "ro" or (resource.writes == "partial" and call.method == "POST"):
            raise not_found(f"No route matches {call.method} /api/v4/{resource.path}")

    def _list(self, call: Call, resource: Resource) -> Response:
        params = call.request.query_params
        selection = parse_fields(params.get("fields"), resource)
        renderer = self.sandbox.renderer
        records = self.sandbox.collections[resource.name].all()
        matching = select(resource, records, params, renderer)
        page = paginate(resource, matching, params, call.request.url, renderer)
        data = [renderer.render(resource, record, selection) for record in page.records]
        return JSONResponse({"data": data, "meta": page.meta()})

    def _show(self, call: Call, resource: Resource, record_id: object) -> Response:
        selection = parse_fields(call.request.query_params.get("fields"), resource)
        record = self._find(resource, record_id)
        headers = _validators(record)
        if _not_modified(call.request, record):
            return Response(status_code=304, headers=headers)
        data = self.sandbox.renderer.render(resource, record, selection)
        return JSONResponse({"data": data}, headers=headers)

    def _create(self, call: Call, resource: Resource) -> Response:
        selection = parse_fields(call.request.query_params.get("fields"), resource)
        data = call.data()
        if resource is WEBHOOKS:
            stored = self.sandbox.webhooks.create(data, call.token.user_id)
        elif resource is ACTIVITIES:
            record = self.sandbox.activity_writer.for_create(data, call.token.user_id)
            stored = self.sandbox.insert_record(resource, record)
        else:
            record = self.sandbox.generic_writer.for_create(resource, data)
            stored = self.sandbox.insert_record(resource, record)
        body = {"data": self.sandbox.renderer.render(resource, stored, selection)}
        return JSONResponse(body, status_code=201, headers=_validators(stored))

    def _patch(self, call: Call, resource: Resource, record_id: str) -> Response:
        selection = parse_fields(call.request.query_params.get("fields"), resource)
        existing = self._find(resource, record_id)
        expected = call.request.headers.get("if-match")
        if expected is not None and not _etag_matches(expected, existing["etag"]):
            # docs/vendors/clio.md §2: If-Match guards PATCH against concurrent changes.
            raise precondition_failed()
        data = call.data()
        if resource is WEBHOOKS:
            stored = self.sandbox.webhooks.update(existing["id"], data)
        elif resource is ACTIVITIES:
            self.sandbox.check_unlocked(existing)
            changes = self.sandbox.activity_writer.for_update(existing, data)
            stored = self.sandbox.change_record(resource, existing["id"], changes)
        elif resource is BILLS:
            stored = patch_bill(self.sandbox, existing, data)
        else:
            changes = self.sandbox.generic_writer.for_update(resource, data)
            stored = self.sandbox.change_record(resource, existing["id"], changes)
        body = {"data": self.sandbox.renderer.render(resource, stored, selection)}
        return JSONResponse(body, headers=_validators(stored))

    def _delete(self, call: Call, resource: Resource, record_id: str) -> Response:
        existing = self._find(resource, record_id)
        if resource is WEBHOOKS:
            self.sandbox.webhooks.delete(existing["id"])
        else:
            if resource is ACTIVITIES:
                self.sandbox.check_unlocked(existing)
            self.sandbox.remove_record(resource, existing["id"])
        return Response(status_code=204)

    def _find(self, resource: Resource, record_id: object) -> Record:
        record = self.sandbox.collections[resource.name].find(record_id)
        if record is None:
            raise not_found(f"{resource.name} {record_id} not found")
        return record


def _oauth_error(error: OAuthError) -> Response:
    return JSONResponse(error.body(), status_code=error.status)


def _validators(record: Record) -> dict[str, str]:
    # docs/vendors/clio.md §2 "ETags": single-record responses carry ETag and Last-Modified.
    headers = {"ETag": str(record["etag"])}
    updated = record.get("updated_at")
    if isinstance(updated, str):
        headers["Last-Modified"] = format_datetime(parse_timestamp(updated), usegmt=True)
    return headers


def _etag_matches(header: str, etag: str) -> bool:
    wanted = {part.strip().removeprefix("W/") for part in header.split(",")}
    return "*" in wanted or etag in wanted or etag.strip('"') in wanted


def _not_modified(request: Request, record: Record) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, record["etag"])
    since = request.headers.get("if-modified-since")
    updated = record.get("updated_at")
    if since and isinstance(updated, str):
        try:
            return parse_timestamp(updated) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False
