"""`billsync sandbox`: serve the vendors' sandboxes on one loopback port; and a firm's config and runtime on them.

The command reaches billsync's CLI through the `billsync.commands` entry point (sandboxes/pyproject.toml).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from billsync_sandboxes.demo.firm import DEMO_ACTIVITIES, DEMO_RATE_LIMIT, demo_firm, demo_seeds
from billsync_sandboxes.kit.firm_config import (
    PLACEHOLDER_IDENTITY,
    ensure_key_file,
    join_vendor_settings,
    write_firm_config,
)
from billsync_sandboxes.kit.server import VendorSandbox, build_server_app
from config.settings import load_settings
from core.cli.common import say
from core.cli.vendors import connect_account
from core.errors import BillsyncError
from core.http import HttpClient
from core.plugins import SANDBOX_FIRM_SETTINGS, SANDBOX_SETTINGS, SANDBOXES, load, names, require_sandboxes
from core.runtime import FirmRuntime, build_runtime
from core.serving import serve
from core.store.store import Store

EXAMPLE_SEED = "config/examples/sandbox-seed.json"
SANDBOX_RATE_LIMIT = 50  # Clio's documented default, per minute and token


def sandbox(
    seed: Annotated[
        Path | None,
        typer.Option(help=f"JSON: records in each vendor's own shapes, by vendor (e.g. {EXAMPLE_SEED})."),
    ] = None,
    demo_firm_: Annotated[
        bool, typer.Option("--demo-firm", help="Serve the firm `billsync demo` uses, in every vendor it uses; no seed.")
    ] = False,
    activities: Annotated[int, typer.Option(help="With --demo-firm: activities in its month.")] = DEMO_ACTIVITIES,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8700,
    write_config: Annotated[
        Path | None, typer.Option(help="Write a billsync config for a firm using every sandbox served.")
    ] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            help=f"Requests per minute per token each sandbox allows (default {SANDBOX_RATE_LIMIT}; demo firm: 100000)."
        ),
    ] = None,
) -> None:
    """Serve every vendor sandbox in the seed (or the demo firm's) on one loopback port until SIGTERM."""
    require_sandboxes()
    if (seed is None) == (not demo_firm_):
        raise BillsyncError(f"name what to serve: --seed FILE (e.g. {EXAMPLE_SEED}) or --demo-firm, not both")
    if seed is not None:
        seeds, origin = read_seed(seed), f"seed {seed}"
        limit = rate_limit or SANDBOX_RATE_LIMIT
    else:
        seeds, origin = demo_seeds(demo_firm(activities)), "the demo firm"
        limit = rate_limit or DEMO_RATE_LIMIT
    _port_free(port)
    sandboxes = build_sandboxes(seeds, origin=origin, rate_limit=limit)
    if write_config is not None:
        sandbox_firm_settings(sandboxes, f"http://127.0.0.1:{port}")  # refuse a firm that cannot be, before serving
        ensure_key_file(write_config.with_suffix(".key"))  # and a key file beside it that holds no key
    server = build_server_app(sandboxes)

    def ready(actual_port: int) -> None:
        base = f"http://127.0.0.1:{actual_port}"
        note = ""
        if write_config is not None:
            settings = sandbox_firm_settings(sandboxes, base)
            write_firm_config(write_config, "demo", settings)
            note = f"; config in {write_config}"
            if "pms" not in settings:
                note += " (no PMS is served: sync needs one)"
        say(f"sandboxes {', '.join(sandboxes)} at {base}{note}")

    serve(server, port=port, on_ready=ready)  # returns on SIGTERM or SIGINT


def _port_free(port: int) -> None:
    """Refuse a taken port in one line before serving (uvicorn would log its own error, then exit)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            taken = f"cannot listen on 127.0.0.1:{port} ({exc.strerror})"
            raise BillsyncError(f"{taken}: --port 0 picks a free one") from None


def read_seed(path: Path) -> dict[str, dict[str, Any]]:
    """A seed file: one JSON object of record collections per vendor, or one clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BillsyncError(f"cannot read seed {path}: {exc}") from None
    installed = ", ".join(names(SANDBOXES))
    if not isinstance(data, dict) or not data:
        raise BillsyncError(
            f"seed {path} serves no vendor: it must be a JSON object with the records of at least one of "
            f"{installed}, e.g. {EXAMPLE_SEED} (or use --demo-firm)"
        )
    for vendor, records in data.items():
        if not isinstance(records, dict):
            raise BillsyncError(f"seed {path}: {vendor!r} must be an object of record lists, e.g. {{\"users\": [...]}}")
    return data


def build_sandboxes(
    seeds: Mapping[str, Mapping[str, Any]], *, origin: str, rate_limit: int
) -> dict[str, VendorSandbox]:
    """Each vendor's sandbox loaded with its records; records a sandbox cannot load are one clear error."""
    built: dict[str, VendorSandbox] = {}
    for vendor, records in seeds.items():
        factory = load(SANDBOXES, vendor)
        try:
            built[vendor] = factory(records, rate_limit_per_minute=rate_limit)
        # What reading malformed records raises; the seed is the person's input, not our bug.
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise BillsyncError(f"{origin}: {vendor} records cannot be loaded: {type(exc).__name__}: {exc}") from None
    return built


def sandbox_firm_settings(sandboxes: Mapping[str, VendorSandbox], base_url: str) -> dict[str, Any]:
    """A firm using every sandbox served at `base_url`: each vendor's part, and a billing identity for LEDES."""
    fragments = {}
    for vendor, box in sandboxes.items():
        try:
            fragments[vendor] = load(SANDBOX_FIRM_SETTINGS, vendor)(box, base_url)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:  # records it could not read
            raise BillsyncError(f"{vendor} records cannot configure a firm: {type(exc).__name__}: {exc}") from None
    return {**join_vendor_settings(fragments), "billing": {"firm": PLACEHOLDER_IDENTITY}}


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
    """A config for a firm on the sandboxes, its roles named by the caller: its own SQLite file and key beside it.

    The first vendor is the PMS; `sources` (among `vendors`) are polled beside it.
    `extra` is more TOML (rules, capture settings, payments), merged over the written settings.
    """
    settings = {
        "pms": vendors[0],
        "sources": [v for v in sources if v in vendors and v != vendors[0]],
        "connectors": {vendor: load(SANDBOX_SETTINGS, vendor)(base_url) for vendor in vendors},
    }
    write_firm_config(path, firm, settings, extra=extra)


