"""Commands that talk to vendors: connect an account, sync once, backfill, check."""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Annotated, Any

import requests
import typer

from config.settings import BillsyncSettings
from core.capture import engine_for
from core.cli.common import (
    ConfigOption,
    FirmOption,
    app,
    connect_command,
    increment_lines,
    pick_firm,
    print_exposed_secret_files,
    print_increment,
    print_result,
    progress_for,
    reconnect_message,
    say,
    settings_from,
)
from core.connector import OAuthConnector, RoundingAdvisor, StreamRole, TimeRounding
from core.engine import CaptureResult
from core.errors import AuthFailed, BillsyncError, NotConnected, Retryable
from core.http import HttpClient
from core.matching import MatterResolver
from core.models import Activity
from core.payments.firm import build_firm_payments
from core.payments.routing import verify_accounts
from core.progress import Progress
from core.runtime import FirmRuntime, build_runtime, limiter_for
from core.store.store import Store
from core.sync import SyncReport

CALLBACK_PATH = "/callback"


@app.command()
def connect(
    connector: Annotated[str, typer.Argument(help="Connector to connect, e.g. clio.")],
    config: ConfigOption = None,
    firm: FirmOption = None,
    port: Annotated[int, typer.Option(help="Local port for the OAuth callback.")] = 8765,
    auto_approve: Annotated[
        bool, typer.Option(help="Follow the authorization URL yourself (sandboxes approve at once).")
    ] = False,
) -> None:
    """Connect a vendor account: authorize in the browser, then tokens are stored encrypted."""
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    runtime = build_runtime(settings, firm_id, Store.open(settings.database_url))
    named = {c.name: c for c in runtime.runner.connectors}
    if connector not in named:
        raise BillsyncError(f"firm {firm_id} does not use {connector} (connectors: {', '.join(named)})")
    connect_account(runtime, port=port, auto_approve=auto_approve, connector=connector)
    say(f"{connector} connected for firm {firm_id}; tokens stored encrypted")


def connect_account(
    runtime: FirmRuntime, *, port: int = 8765, auto_approve: bool = False, connector: str | None = None
) -> None:
    """Run the authorization-code flow for one of the firm's connectors (its PMS by default)."""
    chosen = next((c for c in runtime.runner.connectors if c.name == connector), runtime.pms)
    if not isinstance(chosen, OAuthConnector):
        raise BillsyncError(f"{chosen.name} is not connected with a browser sign-in: its settings hold its credentials")
    redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    state = secrets.token_urlsafe(16)
    url = chosen.authorize_url(redirect_uri, state)
    code = _code_by_redirect(url, state) if auto_approve else _code_by_browser(url, state, port)
    runtime.tokens.save(runtime.firm_id, chosen.name, chosen.exchange_code(code, redirect_uri))
    chosen.check()


def _code_by_redirect(url: str, state: str) -> str:
    try:
        response = requests.get(url, allow_redirects=False, timeout=10)
    except requests.RequestException as exc:
        raise AuthFailed(f"cannot reach the authorization address: {type(exc).__name__}") from None
    location = response.headers.get("Location")
    if not response.is_redirect or not location:
        # The vendor refused before any redirect (a sandbox seeded without users answers so):
        # its own words say why, where a missing state would only suggest a forgery.
        raise AuthFailed(
            f"the authorization request was refused (HTTP {response.status_code}): {_refusal(response)}"
        )
    return _code_from(location, state)


def _refusal(response: requests.Response) -> str:
    """What a vendor's error body says, in the usual OAuth and API shapes; else its first 200 characters."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or "no reason given"
    if isinstance(body, dict):
        error = body.get("error")
        for said in (body.get("error_description"), body.get("message"), error):
            if isinstance(said, str) and said:
                return said[:200]
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:200]
    return str(body)[:200]


def _code_from(location: str, state: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    if query.get("error"):
        raise AuthFailed(f"authorization refused: {query['error'][0]}")
    if query.get("state", [""])[0] != state:
        raise AuthFailed("authorization answer does not carry our state: refused (possible forgery)")
    if not query.get("code"):
        raise AuthFailed("authorization answer carries no code")
    return query["code"][0]


def _code_by_browser(url: str, state: str, port: int) -> str:
    received: dict[str, str] = {}

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received["location"] = self.path
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"billsync: you can close this window.")

        def log_message(self, format: str, *args: Any) -> None:
            return

    say(f"Open this address to grant access:\n{url}")
    with HTTPServer(("127.0.0.1", port), Callback) as server:
        server.timeout = 300
        server.handle_request()
    if "location" not in received:
        raise AuthFailed("no authorization answer within 5 minutes")
    return _code_from(received["location"], state)


@app.command()
def sync(
    config: ConfigOption = None,
    firm: FirmOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one whole cycle and exit.")] = False,
    webhook_url: Annotated[
        str | None, typer.Option(help="Public URL of this firm's webhook endpoint: create or renew the subscription.")
    ] = None,
) -> None:
    """Poll every source, capture, write back and drain the outbox (one cycle with --once)."""
    if not once:
        raise BillsyncError("the long-running daemon is `billsync run`; use `billsync sync --once` for one cycle")
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    with progress_for(settings) as progress:
        runtime = build_runtime(settings, firm_id, store, http=_shows_waits(store, firm_id, progress))
        with _vendor_errors(runtime):
            if webhook_url is not None:
                subscription = runtime.runner.ensure_webhooks(webhook_url)
                if subscription is not None:
                    say(f"webhooks subscribed at {webhook_url} until {subscription.expires_at:%Y-%m-%d %H:%M} UTC")
            report = runtime.runner.run_once(progress=progress)
    print_sync_report(report)
    if not report.ok:
        raise typer.Exit(code=1)


def _shows_waits(store: Store, firm_id: str, progress: Progress) -> HttpClient:
    """The firm's HTTP client, as build_runtime makes it, telling `progress` of each wait for a rate limit."""
    return HttpClient(limiter=limiter_for(store, firm_id), on_wait=progress.waiting)


@contextmanager
def _vendor_errors(runtime: FirmRuntime) -> Iterator[None]:
    """A vendor's refusal as one line that says what to do about it."""
    try:
        yield
    except AuthFailed as exc:
        raise BillsyncError(reconnect_message(exc, runtime.pms.name)) from None
    except Retryable as exc:
        name = runtime.pms.name
        raise BillsyncError(f"{name} is not reachable now: {exc}; nothing was lost, run again") from None


def _taken_over(report: SyncReport) -> str:
    """How many entries an earlier store wrote were taken over, and in which state the PMS shows them."""
    said = f"taken over from an earlier store {report.already_written}"
    if not report.already_written:
        return said
    approved = report.taken_over_approved
    return f"{said}: {report.already_written - approved} waiting for review, {approved} approved"


def print_sync_report(report: SyncReport) -> None:
    """What a cycle read, captured, wrote and pulled back."""
    read = ", ".join(f"{name} {count}" for name, count in sorted(report.records_read.items())) or "nothing new"
    say(f"read: {read}")
    print_result(report.capture)
    say(
        f"written {report.written}, {_taken_over(report)}, "
        f"recovered after lost responses {report.recovered}, "
        f"updated {report.updated}, deferred {report.deferred}; from the PMS: edits {report.remote_edits}, "
        f"approvals {report.approvals_from_pms}, deletions {report.tombstones}"
        + (f", entries it priced by its own rates {report.priced_by_pms}" if report.priced_by_pms else "")
    )
    for problem in report.record_errors[:20]:
        say(("record problem", "yellow"), f" {problem}")  # each says what became of the record
    for failure in report.write_failures:
        say(("write held for a person", "red"), f" {failure}")


@app.command()
def backfill(
    since: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Scan activity from this date (YYYY-MM-DD).")],
    config: ConfigOption = None,
    firm: FirmOption = None,
    client: Annotated[str | None, typer.Option(help="Only activity of this client.")] = None,
    matter: Annotated[str | None, typer.Option(help="Only activity of this matter.")] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Report what would be created; store no activity or entry (people, clients "
            "and matters are still brought up to date, as a sync would).",
        ),
    ] = False,
) -> None:
    """Scan past activity and create the entries never logged; safe to run again."""
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    start = since.replace(tzinfo=UTC)
    from_date = {"updated_since": start.isoformat()}
    reference = SyncReport()
    total = CaptureResult()
    with progress_for(settings) as progress:
        runtime = build_runtime(settings, firm_id, store, http=_shows_waits(store, firm_id, progress))
        # Every activity stream: the PMS's and each source's (all accept an updated_since cursor).
        streams = [
            (connector, s)
            for connector in runtime.runner.connectors
            for s in connector.streams()
            if s.role is StreamRole.ACTIVITY
        ]
        with _vendor_errors(runtime):
            # Activity is judged against the people, clients and matters and the PMS's own increment: read
            # them first, as a sync does, or on a fresh store every activity would wait as "not a timekeeper".
            runtime.runner.refresh_reference(reference, progress)
            runtime.runner.read_time_increment(reference)
            for problem in reference.record_errors[:20]:
                say(("record problem", "yellow"), f" {problem}")
            engine = engine_for(firm_id, firm_settings, store, persist=not dry_run)
            resolver = MatterResolver(store.load_reference(firm_id), firm_settings.capture)
            for connector, stream in streams:
                label = stream.name if connector is runtime.pms else f"{connector.name}:{stream.name}"
                progress.start(f"capturing {label}", unit="read")
                for page in stream.read(from_date):
                    activities = [r for r in page.records if isinstance(r, Activity) and r.started_at >= start]
                    if client or matter:
                        activities = [a for a in activities if _belongs(resolver, a, client, matter)]
                    total.merge(engine.capture(activities))
                    progress.advance(len(page.records), requests=1)
    print_result(total)
    created = sum(total.states.values())
    verb = "would create" if dry_run else "created"
    say(f"backfill {verb} {created} entries; {total.already_known} activities were already known (skipped)")


def _belongs(resolver: MatterResolver, activity: Activity, client: str | None, matter: str | None) -> bool:
    found = resolver.resolve(activity).matter
    if found is None:
        return False
    return (client is None or found.client_id == client) and (matter is None or found.id == matter)


@app.command()
def check(config: ConfigOption = None) -> None:
    """Test every firm's connector: credentials, reachability and settings; say exactly what is wrong."""
    settings = settings_from(config)
    print_exposed_secret_files(config, settings)
    store = Store.open(settings.database_url)
    problems = 0
    for firm_id in settings.firms:
        try:
            runtime = build_runtime(settings, firm_id, store)
        except BillsyncError as exc:
            problems += 1
            named = str(exc).startswith((f"firm {firm_id}", f"firms.{firm_id}"))  # the message names the firm
            say((str(exc) if named else f"firm {firm_id}: {exc}", "red"))
            continue
        failed = set()
        for connector in runtime.runner.connectors:
            try:
                connector.check()
            except NotConnected as exc:  # the firm is named once, and the command is the one to type
                problems += 1
                failed.add(connector.name)
                command = connect_command(exc.connector, config, firm_id, settings)
                say((f"firm {firm_id}: {exc.connector} is not connected yet: run `{command}`", "red"))
                continue
            except (BillsyncError, requests.RequestException) as exc:
                problems += 1
                failed.add(connector.name)
                say((f"firm {firm_id}: {exc}", "red"))
                continue
            say(f"firm {firm_id}: {connector.name} reachable, credentials accepted")
        if runtime.pms.name not in failed:
            _check_increment(runtime)
        if runtime.settings.payments is not None:
            problems += _check_payments(settings, firm_id, store)
    store.close()
    if problems:
        raise typer.Exit(code=1)


def _check_increment(runtime: FirmRuntime) -> None:
    """Read the PMS's rounding now (and keep it, as a sync would); say what will be billed."""
    firm_id, pms = runtime.firm_id, runtime.pms
    configured = runtime.settings.capture.increment_minutes
    pms_rounds = isinstance(pms, TimeRounding)
    advice = None
    try:
        if isinstance(pms, TimeRounding):
            runtime.store.save_time_increment(firm_id, pms.name, pms.time_increment_minutes())
        if configured is not None and isinstance(pms, RoundingAdvisor):  # the firm's own increment against the PMS's
            advice = pms.rounding_mismatch(configured)
    except (BillsyncError, requests.RequestException) as exc:
        say((f"firm {firm_id}: {pms.name} time rounding not read: {exc}", "yellow"))
    read = runtime.store.time_increment(firm_id, pms.name) if pms_rounds else None
    print_increment(increment_lines(firm_id, runtime.settings, pms_rounds=pms_rounds, read=read))
    if advice:
        say((f"firm {firm_id}: {advice}", "yellow"))


def _check_payments(settings: BillsyncSettings, firm_id: str, store: Store) -> int:
    """The payment gateway answers and holds the payments section's accounts, with the right trust flags."""
    try:
        payments = build_firm_payments(settings, firm_id, store)
        verify_accounts(payments.accounts, payments.gateway.accounts())
    except (BillsyncError, requests.RequestException) as exc:
        say((f"firm {firm_id}: payments: {exc}", "red"))
        return 1
    say(f"firm {firm_id}: {payments.gateway_name} reachable, the payments section's accounts found")
    return 0
