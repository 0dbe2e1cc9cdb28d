"""HTTP face of the Graph sandbox: Graph v1.0 under /graph/v1.0, and Entra under /login (auth.py).

Graph requests are dispatched by one function so that $batch members run through exactly the
same code (authentication, permissions, per-mailbox limits, faults) as single requests (§9).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, PlainTextResponse, Response

from billsync_sandboxes.kit import FaultKind, TruncatedResponse, connection_fault, note
from billsync_sandboxes.kit.apps import build_logged_api_app
from billsync_sandboxes.microsoft365.auth import add_entra_routes
from billsync_sandboxes.microsoft365.errors import GraphError, Json, error_body

if TYPE_CHECKING:
    from billsync_sandboxes.microsoft365.state import Microsoft365Sandbox

GRAPH_PREFIX = "/graph/v1.0"
MAX_BATCH = 20  # §9
DEFAULT_DELTA_PAGE = 10  # UNCONFIRMED: Graph documents no default page size for Outlook delta
DEFAULT_LIST_PAGE = 100
CALL_RECORDS_PAGE = 60  # §6
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
# Graph takes a bound function with or without its parentheses and namespace: the SDKs send
# `delta()`, billsync and most hand-written clients `delta` (docs/vendors/microsoft365.md §4).
DELTA_SPELLINGS = frozenset({"delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"})


def page_size(headers: Mapping[str, str], default: int) -> int:
    """The page size a Prefer: odata.maxpagesize header asks for (§4, §6)."""
    match = _MAXPAGESIZE.search(headers.get("prefer", ""))
    return max(1, int(match.group(1))) if match else default


@dataclass
class Answer:
    """A Graph answer before it becomes HTTP."""

    status: int
    body: Json | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphCall:
    """One Graph request as the dispatcher routes it."""

    method: str
    parts: list[str]  # path segments after /v1.0, URL-decoded
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: Any
    base: str  # the version root, for links


class GraphDispatcher:
    """Routes one Graph request (single or a $batch member) to the sandbox."""

    def __init__(self, sandbox: Microsoft365Sandbox) -> None:
        self.sandbox = sandbox

    def dispatch(
        self, method: str, path: str, *, query: Mapping[str, str], headers: Mapping[str, str], body: Any, base: str
    ) -> Answer:
        """Authenticate, apply faults and limits, route; Graph errors become error answers."""
        try:
            client_id = self.sandbox.authenticate(headers.get("authorization"))
            call = GraphCall(method, [unquote(p) for p in path.strip("/").split("/")], query, headers, body, base)
            return self._route(call, client_id)
        except GraphError as exc:
            return Answer(exc.status, exc.body(self.sandbox.clock.now(), headers.get("client-request-id")), exc.headers)

    def _route(self, call: GraphCall, client_id: str) -> Answer:
        s = self.sandbox
        parts, method = call.parts, call.method
        if parts[0] == "$batch" and method == "POST":
            return self._batch(call.body, call.headers, call.base)
        if parts[0] == "users":
            s.require("User.Read.All", "Calendars.Read", "Mail.ReadBasic.All", "Mail.Read")
            if len(parts) == 1 and method == "GET":
                return Answer(200, self._users(call.query, call.headers, call.base))
            user = s.user(parts[1])
            if len(parts) == 2 and method == "GET":
                return Answer(200, _select(dict(user), call.query.get("$select")))
            key = s.enter_mailbox(client_id, str(user["id"]))
            try:
                return self._mailbox(call, parts[1], parts[2:])
            finally:
                s.leave_mailbox(key)
        if parts[:2] == ["communications", "callRecords"] and method == "GET":
            s.require("CallRecords.Read.All")
            return self._call_records(parts[2:], call.query, call.headers, call.base)
        if parts[0] == "subscriptions":
            return self._subscriptions(method, parts[1:], call.body, client_id)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[0]}'.")

    def _mailbox(self, call: GraphCall, mailbox: str, rest: list[str]) -> Answer:
        s = self.sandbox
        size = page_size(call.headers, DEFAULT_DELTA_PAGE)
        segments = [p.lower() for p in rest]  # Graph's path segments are case-insensitive
        if segments and segments[-1] in DELTA_SPELLINGS:
            segments[-1] = "delta"
        if call.method == "GET" and segments == ["calendarview", "delta"]:
            s.require("Calendars.Read", "Calendars.ReadWrite")
            return Answer(200, s.delta("events", mailbox, call.query, size, call.base))
        if call.method == "GET" and segments == ["mailfolders", "sentitems", "messages", "delta"]:
            s.require("Mail.ReadBasic.All", "Mail.Read")
            return Answer(200, s.delta("messages", mailbox, call.query, size, call.base))
        if call.method == "GET" and len(rest) == 2 and rest[0] == "events":
            s.require("Calendars.Read", "Calendars.ReadWrite")
            return Answer(200, s.event(mailbox, rest[1], call.query.get("$select")))
        raise GraphError(400, "BadRequest", "This mailbox resource is not simulated by the sandbox.")

    def _users(self, query: Mapping[str, str], headers: Mapping[str, str], base: str) -> Json:
        size = int(query.get("$top") or page_size(headers, DEFAULT_LIST_PAGE))
        offset = int(query.get("$skiptoken") or 0)
        users = self.sandbox.users
        body: Json = {
            "@odata.context": f"{base}/$metadata#users",
            "value": [_select(dict(u), query.get("$select")) for u in users[offset : offset + size]],
        }
        if offset + size < len(users) and "$top" not in query:
            select = f"&$select={query['$select']}" if query.get("$select") else ""
            body["@odata.nextLink"] = f"{base}/users?$skiptoken={offset + size}{select}"
        return body

    def _call_records(self, rest: list[str], query: Mapping[str, str], headers: Mapping[str, str], base: str) -> Answer:
        s = self.sandbox
        if not rest:
            records = s.call_record_list(query)
            size = page_size(headers, CALL_RECORDS_PAGE)
            offset = int(query.get("$skiptoken") or 0)
            body: Json = {
                "@odata.context": f"{base}/$metadata#communications/callRecords",
                "value": [_select(r, query.get("$select")) for r in records[offset : offset + size]],
            }
            if offset + size < len(records):
                kept = f"&$filter={query['$filter']}" if query.get("$filter") else ""
                body["@odata.nextLink"] = f"{base}/communications/callRecords?$skiptoken={offset + size}{kept}"
            return Answer(200, body)
        record = s.call_record(rest[0])
        if len(rest) == 1:
            shown = {k: v for k, v in record.items() if k not in ("participants_v2", "sessions")}
            return Answer(200, _select(shown, query.get("$select")))
        if rest[1:] == ["participants_v2"]:
            participants = list(record.get("participants_v2") or [])
            size = page_size(headers, DEFAULT_LIST_PAGE)
            offset = int(query.get("$skiptoken") or 0)
            body = {
                "@odata.context": f"{base}/$metadata#communications/callRecords('{rest[0]}')/participants_v2",
                "value": participants[offset : offset + size],
            }
            if offset + size < len(participants):
                body["@odata.nextLink"] = (
                    f"{base}/communications/callRecords/{rest[0]}/participants_v2?$skiptoken={offset + size}"
                )
            return Answer(200, body)
        raise GraphError(400, "BadRequest", "This call record resource is not simulated by the sandbox.")

    def _subscriptions(self, method: str, rest: list[str], body: Any, client_id: str) -> Answer:
        s = self.sandbox
        if not rest and method == "POST":
            return Answer(201, s.create_subscription(body if isinstance(body, dict) else {}, client_id))
        if not rest and method == "GET":
            mine = [public_subscription(x) for x in s.live_subscriptions() if x["applicationId"] == client_id]
            return Answer(200, {"@odata.context": "$metadata#subscriptions", "value": mine})
        if len(rest) == 1 and method == "GET":
            return Answer(200, public_subscription(s.live_subscription(rest[0])))
        if len(rest) == 1 and method == "PATCH":
            return Answer(200, s.renew_subscription(rest[0], body if isinstance(body, dict) else {}))
        if len(rest) == 1 and method == "DELETE":
            s.delete_subscription(rest[0])
            return Answer(204)
        if rest[1:] == ["reauthorize"] and method == "POST":
            s.reauthorize(rest[0])
            return Answer(204)
        raise GraphError(405, "MethodNotAllowed", "The method is not allowed on subscriptions.")

    def _batch(self, body: Any, headers: Mapping[str, str], base: str) -> Answer:
        members = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(members, list) or not members:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        if len(members) > MAX_BATCH:
            raise GraphError(400, "BadRequest", f"The number of batch requests exceeds the limit of {MAX_BATCH}.")
        ids = [str(m.get("id")) for m in members if isinstance(m, dict)]
        if len(set(ids)) != len(members):
            raise GraphError(400, "BadRequest", "Batch request ids must be present and unique.")
        responses = []
        for member in members:
            url = str(member.get("url") or "")
            if not url.startswith("/") or url.startswith("//"):
                raise GraphError(400, "BadRequest", "Batch request urls must be relative to the version root.")
            split = urlsplit(url)
            member_headers = {str(k).lower(): str(v) for k, v in (member.get("headers") or {}).items()}
            member_headers["authorization"] = headers.get("authorization", "")
            fault = self.sandbox.faults.pick(str(member.get("method")), GRAPH_PREFIX + split.path)
            if fault is not None and fault.kind.status is not None:  # members fail one by one (§9)
                extra = {"Retry-After": str(fault.retry_after)} if fault.kind is FaultKind.TOO_MANY_REQUESTS else {}
                code = "TooManyRequests" if extra else "generalException"
                caller_id = member_headers.get("client-request-id")
                body = error_body(code, "sandbox fault", self.sandbox.clock.now(), caller_id)
                answer = Answer(fault.kind.status, body, extra)
            else:
                answer = self.dispatch(
                    str(member.get("method") or "GET").upper(),
                    split.path,
                    query=query_of(url),
                    headers=member_headers,
                    body=member.get("body"),
                    base=base,
                )
            responses.append(
                {
                    "id": str(member["id"]),
                    "status": answer.status,
                    "headers": answer.headers | {"Content-Type": "application/json"},
                    "body": answer.body,
                }
            )
        return Answer(200, {"responses": responses})


def _select(item: Json, select: str | None) -> Json:
    if not select:
        return item
    wanted = {f.strip() for f in select.split(",")} | {"id"}
    return {k: v for k, v in item.items() if k in wanted or k.startswith("@odata")}


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


def _http(answer: Answer) -> Response:
    if answer.body is None:
        return Response(status_code=answer.status, headers=answer.headers)
    if isinstance(answer.body, str):
        return PlainTextResponse(answer.body, status_code=answer.status, headers=answer.headers)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def build_api_app(sandbox: Microsoft365Sandbox) -> FastAPI:
    """Graph at /graph/v1.0/... and Entra at /login/{tenant}/..., with faults and a request log."""
    app = build_logged_api_app(sandbox.request_log, sandbox.clock)
    dispatcher = GraphDispatcher(sandbox)
    add_entra_routes(app, sandbox)

    @app.api_route("/graph/v1.0/{path:path}", methods=["GET", "POST", "PATCH", "DELETE"])
    async def graph(path: str, request: Request) -> Response:
        fault = sandbox.faults.pick(request.method, request.url.path, GRAPH_PREFIX + "/" + path)
        if fault is not None:
            note(request.scope, fault=fault.kind.value)
            dropped = connection_fault(fault, sandbox.clock)
            if dropped is not None:
                return dropped
            if fault.kind is not FaultKind.TRUNCATE:
                extra = {"Retry-After": str(fault.retry_after)} if fault.kind is FaultKind.TOO_MANY_REQUESTS else {}
                code = "TooManyRequests" if extra else "generalException"
                return JSONResponse(
                    error_body(code, "sandbox fault", sandbox.clock.now(), request.headers.get("client-request-id")),
                    status_code=fault.kind.status or 500,
                    headers=extra,
                )
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            caller_id = request.headers.get("client-request-id")
            unreadable = error_body(
                "BadRequest", "Unable to read JSON request payload.", sandbox.clock.now(), caller_id
            )
            return JSONResponse(unreadable, status_code=400)
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = {k: v for k, v in request.query_params.items()}
        answer = await _in_thread(
            functools.partial(
                dispatcher.dispatch, query=query, headers=headers, body=body, base=_base(request) + GRAPH_PREFIX
            ),
            request.method,
            path,
        )
        response = _http(answer)
        return TruncatedResponse(response) if fault is not None else response

    return app


async def _in_thread(call: Callable[..., Answer], *args: Any) -> Answer:
    # Handshakes and notifications call back into the receiver: never block the event loop.
    return await run_in_threadpool(call, *args)


def public_subscription(subscription: Mapping[str, Any]) -> Json:
    """A subscription as Graph shows it (without the sandbox's bookkeeping)."""
    return {k: v for k, v in subscription.items() if not k.startswith("_")}


def query_of(url: str) -> dict[str, str]:
    """The query of a URL as a flat dict (last value wins)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
