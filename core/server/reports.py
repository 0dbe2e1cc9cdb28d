"""The daemon's report pages: `/reports` (the dashboard) and the review pages with their actions.

Reading a firm's pages needs one of its tokens (core/server/page_access.py): `Authorization:
Bearer <token>`, or the cookie a browser gets by signing in at `/reports/login` (with the form,
or a Bearer header; too many failed tries from one address get 429). Without a token
the pages answer 401 with the sign-in form; a token that opens other firms gets 404 for this one,
as for a firm that does not exist. `/reports` lists only the firms the token opens. Every action
needs the firm's `[firms.<id>.reports] review_token` itself, sent as `Authorization: Bearer
<token>` or as the form field `token`, compared in constant time; the sign-in cookie is not
enough. A firm without a review token has read-only pages.

The review page takes the filter of `billsync review list` in its query string
(core/reports/review_filter.py FIELDS); its bulk approve and reject post that filter, and a bulk
action whose filter does not narrow (no timekeeper, matter, client, dates, finding or "no
findings") is refused, as on the command line.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from dataclasses import replace as dc_replace
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from core.errors import BillsyncError
from core.models import ActivityStatus, EntryState
from core.reports.build import build_report
from core.reports.dashboard import plotly_js, render_dashboard, templates
from core.reports.facts import load_facts
from core.reports.review import (
    approve_entry,
    approve_matching,
    assign_activity,
    reject_entry,
    reject_matching,
    reopen_entry,
    review_queue,
)
from core.reports.review_filter import FIELDS, ReviewFilter, matching_entries, matching_parked, short_ids
from core.runtime import FirmRuntime
from core.server import page_access
from core.server.body import BodyRejected, read_body
from core.server.context import ServerContext
from core.server.headers import csp_nonce

_FORM_LIMIT = 16 * 1024  # an action's form is a token, a matter number or a filter and a reason
_UNASSIGNED = (ActivityStatus.UNASSIGNED,)


class _SignInNeeded(Exception):
    """The request carries no credential that opens any firm's pages."""


def reports_router(ctx: ServerContext) -> APIRouter:
    """The report and review routes over the server's firms."""
    router = APIRouter()

    def today() -> date:
        return datetime.fromtimestamp(ctx.clock(), UTC).date()

    _add_sign_in_routes(router, ctx)

    @router.get("/reports/static/plotly.min.js")
    def plotly() -> Response:
        """plotly.js from the installed plotly package (no CDN: firms may have no internet)."""
        return Response(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @router.get("/reports/{firm}", response_class=HTMLResponse)
    def dashboard(firm: str, request: Request, period: str = "all", by: str = "timekeeper") -> Response:
        """The firm's dashboard for a period, grouped by timekeeper, client or matter."""
        try:
            runtime = _readable(ctx, firm, request)
        except _SignInNeeded:
            return _sign_in_needed(request)
        try:
            facts, report = build_report(runtime.store, firm, runtime.settings, period=period, by=by, today=today())
        except BillsyncError as exc:
            raise HTTPException(400, str(exc)) from None
        page = render_dashboard(
            facts, report, served=True, review_url=f"/reports/{quote(firm)}/review", nonce=csp_nonce(request)
        )
        return HTMLResponse(page)

    _add_review_routes(router, ctx, today)
    return router


def _add_review_routes(router: APIRouter, ctx: ServerContext, today: Callable[[], date]) -> None:
    """The review page, filtered as `billsync review list` filters (the same ReviewFilter), and its actions."""

    @router.get("/reports/{firm}/review", response_class=HTMLResponse)
    def review(firm: str, request: Request) -> Response:
        """What a person must act on: unassigned activities, entries to review, bill mismatches, payments."""
        try:
            runtime = _readable(ctx, firm, request)
        except _SignInNeeded:
            return _sign_in_needed(request)
        facts = load_facts(runtime.store, firm, runtime.settings, today())
        queue = review_queue(facts)
        matters = sorted(facts.reference.matters.values(), key=lambda m: m.number)
        # The same filter `billsync review list` reads (core/reports/review_filter.py).
        fields = {name: request.query_params.get(name, "") for name in FIELDS}
        filter_error = None
        try:
            wanted = ReviewFilter.from_fields(fields)
            entries = matching_entries(runtime.store, firm, wanted)
            unassigned = matching_parked(runtime.store, firm, dc_replace(wanted, parked_statuses=_UNASSIGNED))
        except BillsyncError as exc:
            wanted, entries, unassigned, filter_error = ReviewFilter(), [], [], str(exc)
        queue = dc_replace(queue, entries=entries, unassigned=unassigned)
        short = short_ids(runtime.store, firm, [e.id for e in entries])
        # Only a message an action of this server left, never one a link brings (?done=, ?error=).
        flash = page_access.read_flash(request, runtime.settings)
        page = (
            templates()
            .get_template("review.html.j2")
            .render(
                firm=firm,
                firm_name=runtime.settings.name,
                queue=queue,
                reference=facts.reference,
                matters=matters,
                actions_on=runtime.settings.reports.review_token is not None,
                fields={name: fields[name][:200] for name in FIELDS},
                filtered=wanted.fields(),
                narrows=wanted.narrows,
                filter_error=filter_error,
                short=short,
                states=[s.value for s in EntryState],
                done=flash[1] if flash and flash[0] == "done" else None,
                error=flash[1] if flash and flash[0] == "error" else None,
                nonce=csp_nonce(request),
            )
        )
        answer = HTMLResponse(page)
        page_access.clear_flash(request, answer, _review_path(firm))
        return answer

    _add_review_actions(router, ctx)


def _add_review_actions(router: APIRouter, ctx: ServerContext) -> None:
    """Approve, reject, reopen (one entry or every entry a filter picks) and assign: the review token's."""

    @router.post("/reports/{firm}/review/entries/bulk/{action}")
    async def bulk_action(firm: str, action: str, request: Request) -> Response:
        """Approve or reject every entry the form's filter picks (the filter must narrow: no "all")."""
        runtime = _firm(ctx, firm)
        form = await _authorized_form(ctx, runtime, request)
        if action not in ("approve", "reject"):
            raise HTTPException(404, f"no bulk action {action!r} on entries")

        def run() -> str:
            wanted = ReviewFilter.from_fields(form)
            if action == "approve":
                return approve_matching(runtime.store, firm, wanted).summary("approved", wanted)
            return reject_matching(runtime.store, firm, wanted, form.get("reason")).summary("rejected", wanted)

        back = {name: form[name] for name in FIELDS if form.get(name)}
        return await _answer(runtime, firm, request, form, run, query=back)

    @router.post("/reports/{firm}/review/entries/{entry_id}/{action}")
    async def entry_action(firm: str, entry_id: str, action: str, request: Request) -> Response:
        """Approve, reject (with an optional reason) or reopen an entry."""
        runtime = _firm(ctx, firm)
        form = await _authorized_form(ctx, runtime, request)
        if action not in ("approve", "reject", "reopen"):
            raise HTTPException(404, f"no action {action!r} on entries")

        def run() -> str:
            if action == "approve":
                approve_entry(runtime.store, firm, entry_id)
            elif action == "reject":
                reject_entry(runtime.store, firm, entry_id, form.get("reason"))
            else:
                reopen_entry(runtime.store, firm, entry_id)
            state = {"approve": "approved", "reject": "rejected", "reopen": "needs_review"}[action]
            return f"{entry_id}: {state}"

        back = {name: form[name] for name in FIELDS if form.get(name)}
        return await _answer(runtime, firm, request, form, run, query=back)

    @router.post("/reports/{firm}/review/activities/{activity_id}/assign")
    async def assign(firm: str, activity_id: str, request: Request) -> Response:
        """Give an unassigned activity a matter: capture makes its entry."""
        runtime = _firm(ctx, firm)
        form = await _authorized_form(ctx, runtime, request)
        matter = form.get("matter_id", "")
        if not matter:
            raise HTTPException(422, "matter_id is required")

        def run() -> str:
            done = assign_activity(runtime.store, firm, runtime.settings, activity_id, matter)
            entry = f", entry {done.entry.id} ({done.entry.state.value})" if done.entry else f": {done.reason}"
            return f"activity {activity_id}: {done.status.value}{entry}"

        return await _answer(runtime, firm, request, form, run)


def _add_sign_in_routes(router: APIRouter, ctx: ServerContext) -> None:
    """/reports (the firms a token opens), and signing a browser in and out."""

    @router.get("/reports", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        """The dashboards the presented token opens (straight to it when it opens one)."""
        opened = [firm for firm, runtime in sorted(ctx.firms.items()) if page_access.opens(runtime.settings, request)]
        if not opened:
            return _sign_in_needed(request)
        if len(opened) == 1:
            return RedirectResponse(f"/reports/{quote(opened[0])}", 303)
        page = templates().get_template("index.html.j2").render(firms=opened, nonce=csp_nonce(request))
        return HTMLResponse(page)

    @router.get("/reports/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        """The sign-in form: a firm's read or review token; a request already bearing one goes on to /reports."""
        given = page_access.bearer_token(request)
        if given is not None:
            if page_access.opened_by(((f, r.settings) for f, r in ctx.firms.items()), given):
                return RedirectResponse("/reports", 303)
            return _sign_in_page(request, _NO_FIRM)
        return _sign_in_page(request, "", status=200)

    @router.post("/reports/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        """Sign in with a token (the form's, or an `Authorization: Bearer` header's): a read cookie for its firms.

        Failed tries are counted per client address: too many within the window and the
        address gets 429 with Retry-After, whatever it sends, until the oldest one ages out.
        """
        address = request.client.host if request.client is not None else ""
        wait = ctx.sign_ins.wait_seconds(address) if ctx.sign_ins is not None else 0
        if wait:
            return _too_many_sign_ins(request, wait)
        form = await _form(request, ctx)
        token = form.get("token") or page_access.bearer_token(request) or ""
        if not page_access.opened_by(((f, r.settings) for f, r in ctx.firms.items()), token):
            if ctx.sign_ins is not None:
                ctx.sign_ins.failed(address)
            return _sign_in_page(request, _NO_FIRM)
        if ctx.sign_ins is not None:
            ctx.sign_ins.succeeded(address)
        answer = RedirectResponse("/reports", 303)
        page_access.sign_in(answer, token, secure=page_access.over_https(request, ctx.public_url))
        return answer

    @router.post("/reports/logout")
    def logout() -> Response:
        """Forget the browser's read cookie."""
        answer = RedirectResponse("/reports/login", 303)
        page_access.sign_out(answer)
        return answer


def _firm(ctx: ServerContext, firm: str) -> FirmRuntime:
    runtime = ctx.firms.get(firm)
    if runtime is None:
        raise HTTPException(404, "unknown firm")
    return runtime


def _readable(ctx: ServerContext, firm: str, request: Request) -> FirmRuntime:
    """The firm, if the request's token or cookie opens its pages.

    _SignInNeeded when it opens no firm's; 404 when it opens others' but not this one (as for a
    firm that does not exist: a token does not learn which other firms the daemon serves).
    """
    runtime = ctx.firms.get(firm)
    if runtime is not None and page_access.opens(runtime.settings, request):
        return runtime
    if any(page_access.opens(r.settings, request) for r in ctx.firms.values()):
        raise HTTPException(404, "unknown firm")
    raise _SignInNeeded


_NO_FIRM = "That token opens no firm's pages."


def _sign_in_needed(request: Request) -> Response:
    """401 and the sign-in form, saying so when the credential sent opens nothing."""
    return _sign_in_page(request, _NO_FIRM if page_access.presents_credentials(request) else "")


def _sign_in_page(request: Request, message: str, status: int = 401) -> Response:
    """The sign-in form (401 where a page was asked for); a script that sent a bad token gets JSON."""
    if page_access.bearer_token(request) is not None:
        return JSONResponse(
            {"error": "a valid read or review token is required"}, 401, headers={"WWW-Authenticate": "Bearer"}
        )
    page = templates().get_template("login.html.j2").render(message=message, nonce=csp_nonce(request))
    return HTMLResponse(page, status, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def _too_many_sign_ins(request: Request, wait: int) -> Response:
    """429: this address failed to sign in too often; it may try again after `wait` seconds."""
    headers = {"Retry-After": str(wait)}
    message = f"Too many failed sign-ins from this address: try again in {math.ceil(wait / 60)} minute(s)."
    if page_access.bearer_token(request) is not None:
        return JSONResponse({"error": message}, 429, headers=headers)
    page = templates().get_template("login.html.j2").render(message=message, nonce=csp_nonce(request))
    return HTMLResponse(page, 429, headers=headers)


def _review_path(firm: str) -> str:
    return f"/reports/{quote(firm)}/review"


async def _form(request: Request, ctx: ServerContext) -> dict[str, str]:
    """A small url-encoded form's fields (first value of each); 4xx for a body too big or too slow."""
    try:
        body = await read_body(request, _FORM_LIMIT, timeout=ctx.body_timeout_seconds)
    except BodyRejected as exc:
        raise HTTPException(exc.status, str(exc), headers=dict(exc.headers or {})) from None
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


async def _authorized_form(ctx: ServerContext, runtime: FirmRuntime, request: Request) -> dict[str, str]:
    """The action's form fields, once the review token checks out; else 401/403."""
    expected = runtime.settings.reports.review_token
    if expected is None:
        raise HTTPException(403, "review actions are off for this firm: set [firms.<id>.reports] review_token")
    form = await _form(request, ctx)
    given = page_access.bearer_token(request)
    given = form.get("token", "") if given is None else given
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(401, "a valid review token is required", headers={"WWW-Authenticate": "Bearer"})
    return form


async def _answer(
    runtime: FirmRuntime,
    firm: str,
    request: Request,
    form: dict[str, str],
    act: Callable[[], str],
    *,
    query: dict[str, str] | None = None,
) -> Response:
    """Run the action off the event loop; a form gets the review page back (with its filter, `query`),
    an API client JSON."""
    is_form = bool(form) and not request.headers.get("authorization")
    try:
        message, kind = await run_in_threadpool(act), "done"
    except BillsyncError as exc:
        if not is_form:
            return JSONResponse({"error": str(exc)}, 409)
        message, kind = str(exc), "error"
    if not is_form:
        return JSONResponse({"status": "done", "message": message})
    back = f"?{urlencode(query)}" if query else ""
    answer = RedirectResponse(_review_path(firm) + back, 303)
    page_access.set_flash(answer, runtime.settings, _review_path(firm), kind, message)
    return answer
