"""Builds what a firm's sync needs from its settings: store, tokens, HTTP client, connector, runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from pydantic import ValidationError

from config.settings import BillsyncSettings, FirmSettings
from core.capture import engine_for
from core.connector import Connector, Context
from core.errors import ConfigError
from core.http import HttpClient
from core.plugins import CONNECTORS, load
from core.store.store import Store
from core.sync import SyncRunner
from core.tokens import TokenStore, fernet_from_key


@dataclass
class FirmRuntime:
    """One firm's connector and sync runner over a shared store."""

    firm_id: str
    settings: FirmSettings
    store: Store
    tokens: TokenStore
    connector: Connector
    runner: SyncRunner


def build_runtime(
    settings: BillsyncSettings,
    firm_id: str,
    store: Store,
    http: HttpClient | None = None,
    retry_delay: timedelta = timedelta(minutes=2),
) -> FirmRuntime:
    """Wire the firm's system-of-record connector and its sync runner."""
    firm = settings.firm(firm_id)
    tokens = TokenStore(store.engine, fernet_from_key(settings.encryption_key()))
    name = firm.system_of_record
    connector_class = load(CONNECTORS, name)
    raw = firm.connectors.get(name)
    if raw is None:
        raise ConfigError(f"firm {firm_id}: no [firms.{firm_id}.connectors.{name}] settings for its system of record")
    try:
        connector_settings = connector_class.Settings(**raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"firm {firm_id}, connector {name}: {problems}") from None
    ctx = Context(
        firm=firm_id,
        http=http or HttpClient(),
        tokens=tokens,
        log=structlog.get_logger().bind(firm=firm_id, connector=name),
    )
    connector: Connector = connector_class(connector_settings, ctx)
    runner = SyncRunner(
        firm=firm_id,
        connector=connector,
        store=store,
        make_engine=lambda: engine_for(firm_id, firm, store),
        retry_delay=retry_delay,
        tokens=tokens,
    )
    return FirmRuntime(firm_id, firm, store, tokens, connector, runner)
