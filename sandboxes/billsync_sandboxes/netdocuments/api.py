"""The HTTP face of the NetDocuments sandbox: /{host}/neWeb2/OAuth.aspx, /{host}/v1/OAuth, /{host}/v1/*.

Mounted at /netdocuments. Facts from docs/vendors/netdocuments.md.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from billsync_sandboxes.kit import FaultKind, FaultRule, TruncatedResponse, connection_fault, note
from billsync_sandboxes.kit.apps import build_logged_api_app
from billsync_sandboxes.netdocuments.auth import basic_credentials, scopes_of, unauthorized
from billsync_sandboxes.netdocuments.errors import NetDocumentsError

if TYPE_CHECKING:
    from billsync_sandboxes.netdocuments.state import NetDocumentsSandbox

BOM = "\ufeff".encode()
LOG_DEFAULT_DAYS = 30  # docs/vendors/netdocuments.md §4: `start` defaults to 30 days back
LOG_RIGHTS = frozenset({"admin", "full"})  # docs/vendors/netdocuments.md §6: probably repository admin (UNCONFIRMED)
_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d")  # docs/vendors/netdocuments.md §4: the two forms `start`/`end` take
# docs/vendors/netdocuments.md §1: the web host of each region; its API host is "api." + the web host.
WEB_HOSTS = {
    "us": "vault.netvoyage.com",
    "eu": "eu.netdocuments.com",
    "au": "au.netdocuments.com",
    "de": "de.netdocuments.com",
    "ca": "can.netdocuments.com",
    "dev": "ducot.netdocuments.com",
}


def build_api_app(sandbox: NetDocumentsSandbox) -> FastAPI:
    """Build the app serving NetDocuments' consent page, token endpoint and REST API."""
    app = build_logged_api_app(sandbox.request_log, sandbox.clock)
    api = _Api(sandbox)

    @app.get("/{host}/neWeb2/OAuth.aspx")
    def authorize(host: str, request: Request) -> Response:
        return _guard(lambda: api.authorize(host, request))

    @app.post("/{host}/v1/OAuth")
    async def token(host: str, request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(lambda: _guard(lambda: api.token(host, request, body)))

    @app.get("/{host}/v1/{path:path}")
    async def rest(host: str, path: str, request: Request) -> Response:
        return await run_in_threadpool(lambda: _guard(lambda: api.handle(host, path, request)))

    return app


def _guard(action: Any) -> Response:
    try:
        response: Response = action()
    except NetDocumentsError as error:
        return JSONResponse(error.body(), status_code=error.status)
    return response


class _Api:
    """Hosts, authentication, rate limiting, faults and routing."""

    def __init__(self, sandbox: NetDocumentsSandbox) -> None:
        self.sandbox = sandbox

    # -- hosts and OAuth (docs/vendors/netdocuments.md §1, §3) --------------------------------------

    def _region_of(self, host: str, *, api: bool) -> str:
        for region, web in WEB_HOSTS.items():
            if host == (f"api.{web}" if api else web):
                return region
        # Old-style hosts (api.eu.vault.netvoyage.com) and anything else do not exist (docs/vendors/netdocuments.md §1).
        raise NetDocumentsError(404, "not_found", f"No NetDocuments host {host}.")

    def authorize(self, host: str, request: Request) -> Response:
        """The consent page: approves at once as the repository's first internal user."""
        region = self._region_of(host, api=False)
        params = request.query_params
        redirect_uri, state = params.get("redirect_uri"), params.get("state") or ""
        if region != self.sandbox.region or params.get("client_id") != self.sandbox.client_id or not redirect_uri:
            raise NetDocumentsError(400, "invalid_client", "Unknown client_id for this NetDocuments service.")
        if params.get("response_type") != "code":
            raise NetDocumentsError(400, "unsupported_response_type", "response_type must be code.")
        scopes = scopes_of(params.get("scope"))
        with self.sandbox.lock:
            person = next((u for u in self.sandbox.users if not u.get("external")), None)
            if person is None:
                raise NetDocumentsError(400, "invalid_request", "The sandbox has no user to approve as.")
            code = self.sandbox.tokens.authorize(str(person["id"]), redirect_uri, scopes)
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}", 302)

    def token(self, host: str, request: Request, body: bytes) -> Response:
        """POST /v1/OAuth, form-encoded: client_credentials, authorization_code, refresh_token."""
        region = self._region_of(host, api=True)
        form = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}
        creds = basic_credentials(request.headers.get("authorization"), form)
        sandbox = self.sandbox
        if (
            creds is None
            or region != sandbox.region  # the app and repository live in one region (docs/vendors/netdocuments.md §1)
            or not hmac.compare_digest(creds.client_id, sandbox.client_id)
            or not hmac.compare_digest(creds.secret, sandbox.client_secret)
        ):
            raise NetDocumentsError(401, "invalid_client", "The client credentials are not valid.")
        grant = form.get("grant_type")
        with sandbox.lock:
            if grant == "client_credentials":
                if creds.repository_id != sandbox.repository_id:
                    # docs/vendors/netdocuments.md §3: the username must be "{client_id}|{repository_id}".
                    raise NetDocumentsError(401, "invalid_client", "The repository is not valid for this client.")
                issued = sandbox.tokens.issue("service", scopes_of(form.get("scope")), with_refresh=False)
            elif grant == "authorization_code":
                issued = sandbox.tokens.exchange(form.get("code", ""), form.get("redirect_uri"))
            elif grant == "refresh_token":
                issued = sandbox.tokens.refresh(form.get("refresh_token", ""))
            else:
                raise NetDocumentsError(400, "unsupported_grant_type", "The grant type is not supported.")
            note(request.scope, token_id=issued.token_id)
            return JSONResponse(sandbox.tokens.response(issued))

    # -- /v1 ----------------------------------------------------------------------------------------

    def handle(self, host: str, path: str, request: Request) -> Response:
        """Authenticate, rate-limit, maybe inject a fault, then route."""
        region = self._region_of(host, api=True)
        sandbox = self.sandbox
        with sandbox.lock:
            if region != sandbox.region:
                # docs/vendors/netdocuments.md §1 (UNCONFIRMED)
                raise unauthorized("The access token is not valid in this region.")
            token = sandbox.tokens.authenticate(request.headers.get("authorization"))
            note(request.scope, token_id=token.token_id)
            decision = sandbox.rate_limiter.hit(token.token_id)
            if not decision.allowed:
                # docs/vendors/netdocuments.md §9: limits, headers and Retry-After are all UNCONFIRMED: a bare 429.
                raise NetDocumentsError(429, "too_many_requests", "Too many requests.")
            fault = sandbox.faults.pick(request.method, request.url.path, f"/v1/{path}")
            if fault is not None:
                note(request.scope, fault=fault.kind.value)
                if fault.kind is not FaultKind.TRUNCATE:
                    return self._fault_response(fault)
            try:
                response = self._route(path.strip("/").split("/"), request, token.user_id, token.scopes)
            except NetDocumentsError as error:
                response = JSONResponse(error.body(), status_code=error.status)
            return TruncatedResponse(response) if fault is not None else response

    def _fault_response(self, fault: FaultRule) -> Response:
        dropped = connection_fault(fault, self.sandbox.clock)
        if dropped is not None:
            return dropped
        return JSONResponse({"error": "server_error", "message": "An error occurred."}, fault.kind.status or 500)

    def _route(self, segments: list[str], request: Request, user_id: str, scopes: frozenset[str]) -> Response:
        sandbox = self.sandbox
        lowered = [s.lower() for s in segments]  # docs/vendors/netdocuments.md cites /v1/cabinet and /v1/Cabinet alike
        match lowered:
            case ["user", "info"]:
                return JSONResponse(self._me(user_id))
            case ["user", "cabinets"]:
                repo = sandbox.repository
                return JSONResponse(
                    [
                        {"repositoryId": repo["id"], "repositoryName": repo.get("name", ""), **cabinet}
                        for cabinet in sandbox.cabinets
                    ]
                )
            case ["repository", _, rest]:
                self._repository(segments[1])
                if rest == "users":
                    return JSONResponse(sandbox.users)
                if rest == "info":
                    return JSONResponse(sandbox.repository)
                if rest == "log":
                    return self._log(request, scopes)
            case ["cabinet", _, "customattributes"]:
                found = sandbox.custom_attributes.get(segments[1])
                if found is not None:
                    return JSONResponse(found)
                raise NetDocumentsError(404, "not_found", f"Cabinet {segments[1]} was not found.")
            case ["document", _, "info"]:
                return JSONResponse(sandbox.document_profile(segments[1]))
            case ["document", _]:
                # The download: the document's contents. billsync never asks for it (privilege).
                sandbox.document_profile(segments[1])
                contents = str(sandbox.documents[segments[1]].get("contents", ""))
                return Response(contents.encode(), media_type="application/octet-stream")
        raise NetDocumentsError(404, "not_found", "The requested resource does not exist.")

    def _me(self, user_id: str) -> dict[str, Any]:
        if user_id == "service":
            # docs/vendors/netdocuments.md §3: what a service-account token is is UNCONFIRMED; the sandbox names it
            # plainly.
            return {"id": "service", "displayName": "Service account", "email": "", "primaryCabinet": ""}
        return {k: v for k, v in self.sandbox.user(user_id).items() if k != "lastLogin"}

    def _repository(self, repository_id: str) -> None:
        if repository_id != self.sandbox.repository_id:
            raise NetDocumentsError(404, "not_found", f"Repository {repository_id} was not found.")

    def _log(self, request: Request, scopes: frozenset[str]) -> Response:
        """docs/vendors/netdocuments.md §6: a JSON array behind a UTF-8 byte-order mark, capped, oldest first, no
        paging."""
        if not scopes & LOG_RIGHTS:
            raise NetDocumentsError(403, "forbidden", "The repository log needs repository-administrator rights.")
        params = request.query_params
        if (params.get("format") or "").lower() != "json":
            raise NetDocumentsError(400, "invalid_request", "format=json is required for a JSON log.")
        log_type = (params.get("Logtype") or params.get("logtype") or "").lower()
        if log_type not in ("consolidated", "admin"):
            raise NetDocumentsError(400, "invalid_request", "Logtype must be consolidated or admin.")
        now = self.sandbox.clock.now()
        start = _moment(params.get("start"), "start", end=False) or now - timedelta(days=LOG_DEFAULT_DAYS)
        end = _moment(params.get("end"), "end", end=True) or now
        if end < start:
            raise NetDocumentsError(400, "invalid_request", "end is before start.")
        rows = []
        if log_type == "consolidated":  # the sandbox keeps no administrator events
            dated = [(_at(entry["activity"]["date"]), i, entry) for i, entry in enumerate(self.sandbox.log)]
            rows = [entry for at, _, entry in sorted(dated, key=lambda t: (t[0], t[1])) if start <= at <= end]
        body = BOM + json.dumps(rows[: self.sandbox.log_row_cap]).encode()
        return Response(body, media_type="application/json; charset=utf-8")


def _moment(text: str | None, name: str, *, end: bool) -> datetime | None:
    if not text:
        return None
    for form in _TIME_FORMATS:
        try:
            parsed = datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
        if form == "%Y-%m-%d" and end:
            return parsed + timedelta(days=1, seconds=-1)  # a date as `end` takes in the whole day
        return parsed
    raise NetDocumentsError(400, "invalid_request", f"{name} must be yyyy-MM-dd or yyyy-MM-ddThh:mm:ssZ.")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
