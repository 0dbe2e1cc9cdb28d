"""Commands that talk to vendors: connect an account, sync once, backfill, serve the sandboxes."""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Annotated, Any, cast

import requests
import typer
from cryptography.fernet import Fernet
from rich.progress import Progress, SpinnerColumn, TextColumn

from config.settings import load_settings
from core.capture import engine_for
from core.cli.common import ConfigOption, FirmOption, app, console, pick_firm, print_result, settings_from
from core.connector import OAuthConnector
from core.engine import CaptureResult
from core.errors import AuthFailed, BillsyncError, Retryable
from core.http import HttpClient
from core.matching import MatterResolver
from core.models import Activity
from core.plugins import SANDBOX_SETTINGS, SANDBOXES, load
from core.runtime import FirmRuntime, build_runtime
from core.sandbox.server import build_server_app
from core.serving import serve
from core.store.store import Store
from core.sync import REFERENCE_STREAMS, SyncReport

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
    if not callable(getattr(named[connector], "authorize_url", None)):
        raise BillsyncError(f"{connector} is not connected with a browser sign-in: its settings hold its credentials")
    connect_account(runtime, port=port, auto_approve=auto_approve, connector=connector)
    console.print(f"{connector} connected for firm {firm_id}; tokens stored encrypted")


def connect_account(
    runtime: FirmRuntime, *, port: int = 8765, auto_approve: bool = False, connector: str | None = None
) -> None:
    """Run the authorization-code flow for one of the firm's connectors (its system of record by default)."""
    chosen = next((c for c in runtime.runner.connectors if c.name == connector), runtime.connector)
    oauth = cast(OAuthConnector, chosen)
    redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    state = secrets.token_urlsafe(16)
    url = oauth.authorize_url(redirect_uri, state)
    code = _code_by_redirect(url, state) if auto_approve else _code_by_browser(url, state, port)
    runtime.tokens.save(runtime.firm_id, chosen.name, oauth.exchange_code(code, redirect_uri))
    chosen.check()


def _code_by_redirect(url: str, state: str) -> str:
    response = requests.get(url, allow_redirects=False, timeout=10)
    location = response.headers.get("Location", "")
    return _code_from(location, state)


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

    console.print(f"Open this address to grant access:\n{url}")
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
    runtime = build_runtime(settings, firm_id, Store.open(settings.database_url))
    with _vendor_errors(runtime):
        if webhook_url is not None:
            subscription = runtime.runner.ensure_webhooks(webhook_url)
            if subscription is not None:
                console.print(
                    f"webhooks subscribed at {webhook_url} until {subscription.expires_at:%Y-%m-%d %H:%M} UTC"
                )
        report = runtime.runner.run_once()
    print_sync_report(report)
    if not report.ok:
        raise typer.Exit(code=1)


@contextmanager
def _vendor_errors(runtime: FirmRuntime) -> Iterator[None]:
    """A vendor's refusal as one line that says what to do about it."""
    try:
        yield
    except AuthFailed as exc:
        raise BillsyncError(f"{exc} (run `billsync connect {runtime.connector.name}`)") from None
    except Retryable as exc:
        name = runtime.connector.name
        raise BillsyncError(f"{name} is not reachable now: {exc}; nothing was lost, run again") from None


def print_sync_report(report: SyncReport) -> None:
    """What a cycle read, captured, wrote and pulled back."""
    read = ", ".join(f"{name} {count}" for name, count in sorted(report.records_read.items())) or "nothing new"
    console.print(f"read: {read}")
    print_result(report.capture)
    console.print(
        f"written {report.written}, recovered after lost responses {report.recovered}, "
        f"updated {report.updated}, deferred {report.deferred}; from the PMS: edits {report.remote_edits}, "
        f"approvals {report.approvals_from_pms}, deletions {report.tombstones}"
    )
    for problem in report.record_errors[:20]:
        console.print(f"[yellow]record problem[/yellow] {problem}")  # each says what became of the record
    for failure in report.write_failures:
        console.print(f"[red]write held for a person[/red] {failure}")


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
    runtime = build_runtime(settings, firm_id, store)
    start = since.replace(tzinfo=UTC)
    from_date = {"updated_since": start.isoformat()}
    # Activity is judged against the people, clients and matters: read them first, as a sync does,
    # or on a fresh store every activity would wait as "not a timekeeper".
    reference = SyncReport()
    with _vendor_errors(runtime):
        runtime.runner.refresh_reference(reference)
    for problem in reference.record_errors[:20]:
        console.print(f"[yellow]record problem[/yellow] {problem}")
    engine = engine_for(firm_id, firm_settings, store, persist=not dry_run)
    resolver = MatterResolver(store.load_reference(firm_id), firm_settings.capture)
    total = CaptureResult()
    # Every activity stream: the system of record's and each source's (all accept an updated_since cursor).
    streams = [
        s
        for connector in runtime.runner.connectors
        for s in connector.streams()
        if connector is not runtime.connector or s.name not in REFERENCE_STREAMS
    ]
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True)
    with _vendor_errors(runtime), progress:
        task = progress.add_task("scanning", total=None)
        for stream in streams:
            for page in stream.read(from_date):
                activities = [r for r in page.records if isinstance(r, Activity) and r.started_at >= start]
                if client or matter:
                    activities = [a for a in activities if _belongs(resolver, a, client, matter)]
                total.merge(engine.capture(activities))
                progress.update(task, description=f"{stream.name}: {total.seen} activities scanned")
    print_result(total)
    created = sum(total.states.values())
    verb = "would create" if dry_run else "created"
    console.print(f"backfill {verb} {created} entries; {total.already_known} activities were already known (skipped)")


def _belongs(resolver: MatterResolver, activity: Activity, client: str | None, matter: str | None) -> bool:
    found = resolver.resolve(activity).matter
    if found is None:
        return False
    return (client is None or found.client_id == client) and (matter is None or found.id == matter)


@app.command()
def sandbox(
    seed: Annotated[Path, typer.Option(help='JSON seed: {"clio": {...}, ...}, records in each vendor\'s shapes.')],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8700,
    write_config: Annotated[Path | None, typer.Option(help="Write a billsync config pointing at the sandbox.")] = None,
    rate_limit: Annotated[int, typer.Option(help="Clio requests per minute per token.")] = 50,
) -> None:
    """Serve every vendor sandbox in the seed on one loopback port until SIGTERM."""
    try:
        data = json.loads(seed.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BillsyncError(f"cannot read seed {seed}: {exc}") from None
    sandboxes = {
        vendor: load(SANDBOXES, vendor)(records, rate_limit_per_minute=rate_limit) for vendor, records in data.items()
    }
    server = build_server_app(sandboxes)

    def ready(actual_port: int) -> None:
        base = f"http://127.0.0.1:{actual_port}"
        if write_config is not None:
            write_sandbox_config(write_config, base, list(sandboxes))
        console.print(
            f"sandboxes {', '.join(sandboxes)} at {base}" + (f"; config in {write_config}" if write_config else "")
        )

    serve(server, port=port, on_ready=ready)  # returns on SIGTERM or SIGINT


def connect_to_sandbox(
    config: Path,
    base_url: str,
    vendors: list[str],
    *,
    extra: str = "",
    http: HttpClient | None = None,
    retry_delay: timedelta = timedelta(minutes=2),
    sources: Sequence[str] = (),
) -> FirmRuntime:
    """The sandbox firm ready to sync: config written, store opened, runtime built, account connected."""
    write_sandbox_config(config, base_url, vendors, extra=extra, sources=sources)
    settings = load_settings(config)
    runtime = build_runtime(settings, "demo", Store.open(settings.database_url), http=http, retry_delay=retry_delay)
    connect_account(runtime, auto_approve=True)
    return runtime


def write_sandbox_config(
    path: Path,
    base_url: str,
    vendors: list[str],
    firm: str = "demo",
    extra: str = "",
    sources: Sequence[str] = (),
) -> None:
    """A config for a firm on the sandboxes: its own SQLite file and secret key beside the config.

    The first vendor is the system of record; `sources` (among `vendors`) are polled beside it.
    `extra` is more TOML for the firm (rules, capture settings), appended as it is.
    """
    key_file = path.with_suffix(".key")
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    lines = [
        f'database_url = "sqlite:///{path.with_suffix(".db").resolve()}"',
        f'secret_key_file = "{key_file.resolve()}"',
        "",
        f"[firms.{firm}]",
        'name = "Sandbox Law LLP"',
        f'system_of_record = "{vendors[0]}"',
        f"sources = {json.dumps([v for v in sources if v in vendors and v != vendors[0]])}",
        "",
        f"[firms.{firm}.capture]",
        "enabled = true",
    ]
    for vendor in vendors:
        lines += ["", f"[firms.{firm}.connectors.{vendor}]"]
        for key, value in load(SANDBOX_SETTINGS, vendor)(base_url).items():
            lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")


@app.command()
def check(config: ConfigOption = None) -> None:
    """Test every firm's connector: credentials, reachability and settings; say exactly what is wrong."""
    settings = settings_from(config)
    store = Store.open(settings.database_url)
    problems = 0
    for firm_id in settings.firms:
        try:
            runtime = build_runtime(settings, firm_id, store)
        except BillsyncError as exc:
            problems += 1
            console.print(f"[red]firm {firm_id}: {exc}[/red]")
            continue
        failed = set()
        for connector in runtime.runner.connectors:
            try:
                connector.check()
            except (BillsyncError, requests.RequestException) as exc:
                problems += 1
                failed.add(connector.name)
                console.print(f"[red]firm {firm_id}: {exc}[/red]")
                continue
            console.print(f"firm {firm_id}: {connector.name} reachable, credentials accepted")
        advise = getattr(runtime.connector, "rounding_mismatch", None)  # vendors that round time themselves
        if callable(advise) and runtime.connector.name not in failed:
            advice = advise(runtime.settings.capture.increment_minutes)
            if advice:
                console.print(f"[yellow]firm {firm_id}: {advice}[/yellow]")
    store.close()
    if problems:
        raise typer.Exit(code=1)
