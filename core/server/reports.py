"""The daemon's report pages: `/reports` (the dashboard) and the review pages with their actions.

Reading is open like `/metrics` (put the daemon behind the firm's network or proxy); every action
needs the firm's `[firms.<id>.reports] review_token`, sent as `Authorization: Bearer <token>` or
as the form field `token`, compared in constant time. A firm without a token has read-only pages.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, quote

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from core.errors import BillsyncError
from core.reports.build import build_report
from core.reports.dashboard import plotly_js, render_dashboard, templates
from core.reports.facts import load_facts
from core.reports.review import approve_entry, assign_activity, reject_entry, review_queue
from core.runtime import FirmRuntime
from core.server.body import BodyRejected, read_body
from core.server.context import ServerContext

_FORM_LIMIT = 16 * 1024  # an action's form is a token and a matter number


def reports_router(ctx: ServerContext) -> APIRouter:
    """The report and review routes over the server's firms."""
    router = APIRouter()

    def today() -> date:
        return datetime.fromtimestamp(ctx.clock(), UTC).date()

    @router.get("/reports", response_class=HTMLResponse)
    def index() -> Response:
        """Each firm's dashboard (straight to it when there is one firm)."""
        if len(ctx.firms) == 1:
            return RedirectResponse(f"/reports/{quote(next(iter(ctx.firms)))}", 303)
        links = "".join(f'<li><a href="/reports/{quote(f)}">{f}</a></li>' for f in sorted(ctx.firms))
        return HTMLResponse(f"<!doctype html><title>billsync reports</title><ul>{links}</ul>")

    @router.get("/reports/static/plotly.min.js")
    def plotly() -> Response:
        """plotly.js from the installed plotly package (no CDN: firms may have no internet)."""
        return Response(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @router.get("/reports/{firm}", response_class=HTMLResponse)
    def dashboard(firm: str, period: str = "all", by: str = "timekeeper") -> Response:
        """The firm's dashboard for a period, grouped by timekeeper, client or matter."""
        runtime = _firm(ctx, firm)
        try:
            facts, report = build_report(runtime.store, firm, runtime.settings, period=period, by=by, today=today())
        except BillsyncError as exc:
            raise HTTPException(400, str(exc)) from None
        page = render_dashboard(facts, report, served=True, review_url=f"/reports/{quote(firm)}/review")
        return HTMLResponse(page)

    @router.get("/reports/{firm}/review", response_class=HTMLResponse)
    def review(firm: str, done: str | None = None, error: str | None = None) -> Response:
        """What a person must act on: unassigned activities, entries to review, bill mismatches, payments."""
        runtime = _firm(ctx, firm)
        facts = load_facts(runtime.store, firm, runtime.settings, today())
        queue = review_queue(facts)
        matters = sorted(facts.reference.matters.values(), key=lambda m: m.number)
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
                done=done,
                error=error,
            )
        )
        return HTMLResponse(page)

    @router.post("/reports/{firm}/review/entries/{entry_id}/{action}")
    async def entry_action(firm: str, entry_id: str, action: str, request: Request) -> Response:
        """Approve or reject an entry."""
        runtime = _firm(ctx, firm)
        form = await _authorized_form(runtime, request)
        actions = {"approve": (approve_entry, "approved"), "reject": (reject_entry, "rejected")}
        if action not in actions:
            raise HTTPException(404, f"no action {action!r} on entries")
        act, done = actions[action]

        def run() -> str:
            act(runtime.store, firm, entry_id)
            return f"{entry_id}: {done}"

        return await _answer(firm, request, form, run)

    @router.post("/reports/{firm}/review/activities/{activity_id}/assign")
    async def assign(firm: str, activity_id: str, request: Request) -> Response:
        """Give an unassigned activity a matter: capture makes its entry."""
        runtime = _firm(ctx, firm)
        form = await _authorized_form(runtime, request)
        matter = form.get("matter_id", "")
        if not matter:
            raise HTTPException(422, "matter_id is required")

        def run() -> str:
            done = assign_activity(runtime.store, firm, runtime.settings, activity_id, matter)
            entry = f", entry {done.entry.id} ({done.entry.state.value})" if done.entry else f": {done.reason}"
            return f"activity {activity_id}: {done.status.value}{entry}"

        return await _answer(firm, request, form, run)

    return router


def _firm(ctx: ServerContext, firm: str) -> FirmRuntime:
    runtime = ctx.firms.get(firm)
    if runtime is None:
        raise HTTPException(404, "unknown firm")
    return runtime


async def _authorized_form(runtime: FirmRuntime, request: Request) -> dict[str, str]:
    """The action's form fields, once the review token checks out; else 401/403."""
    expected = runtime.settings.reports.review_token
    if expected is None:
        raise HTTPException(403, "review actions are off for this firm: set [firms.<id>.reports] review_token")
    try:
        body = await read_body(request, _FORM_LIMIT)
    except BodyRejected as exc:
        raise HTTPException(exc.status, str(exc)) from None
    form = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else form.get("token", "")
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(401, "a valid review token is required", headers={"WWW-Authenticate": "Bearer"})
    return form


async def _answer(firm: str, request: Request, form: dict[str, str], act: Callable[[], str]) -> Response:
    """Run the action off the event loop; a form gets the review page back, an API client JSON."""
    is_form = bool(form) and not request.headers.get("authorization")
    try:
        message = await run_in_threadpool(act)
    except BillsyncError as exc:
        if is_form:
            return RedirectResponse(f"/reports/{quote(firm)}/review?error={quote(str(exc))}", 303)
        return JSONResponse({"error": str(exc)}, 409)
    if is_form:
        return RedirectResponse(f"/reports/{quote(firm)}/review?done={quote(message)}", 303)
    return JSONResponse({"status": "done", "message": message})
