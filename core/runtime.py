"""Builds what a firm's sync needs from its settings: store, tokens, HTTP client, connector, runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from pydantic import ValidationError

from config.settings import BillsyncSettings, FirmSettings
from core.billing.lifecycle import follow_new_bills
from core.capture import engine_for
from core.connector import Connector, ConnectorRole, Context
from core.errors import ConfigError
from core.http import HttpClient, Limiter
from core.plugins import CONNECTORS, load, names
from core.store.rate_windows import SharedRateLimiter
from core.store.store import Store
from core.sync import SyncRunner
from core.tokens import TokenStore, fernet_from_key


@dataclass
class FirmRuntime:
    """One firm's PMS connector, its sync runner and its payment gateway over a shared store."""

    firm_id: str
    settings: FirmSettings
    store: Store
    tokens: TokenStore
    pms: Connector  # the firm's practice-management system: entries are written to it
    runner: SyncRunner
    # The firm's payment gateway when payments are on: its webhooks ring the payments job's doorbell.
    payment_gateway: Connector | None = None
    http: HttpClient | None = None  # the client its connectors share (the payments job's gateway uses it too)


def build_runtime(
    settings: BillsyncSettings,
    firm_id: str,
    store: Store,
    http: HttpClient | None = None,
    retry_delay: timedelta = timedelta(minutes=2),
) -> FirmRuntime:
    """Wire the firm's PMS connector, its activity sources and its sync runner."""
    firm = settings.firm(firm_id)
    tokens = TokenStore(store.engine, fernet_from_key(settings.encryption_key()))
    shared_http = http or HttpClient(limiter=limiter_for(store, firm_id))
    problems = role_problems(firm_id, firm)
    if problems:
        raise ConfigError("; ".join(problems), tuple(problems))
    pms = _connector(firm_id, firm, firm.pms, tokens=tokens, http=shared_http, role="its PMS")
    sources = [
        _connector(firm_id, firm, name, tokens=tokens, http=shared_http, role="a source")
        for name in dict.fromkeys(firm.sources)
    ]
    runner = SyncRunner(
        firm=firm_id,
        pms=pms,
        store=store,
        make_engine=lambda: engine_for(firm_id, firm, store),
        retry_delay=retry_delay,
        tokens=tokens,
        sources=sources,
        after_poll=lambda report: follow_new_bills(store, firm_id, firm.billing, pms, report),
        claim_lease=timedelta(seconds=settings.daemon.claim_lease_seconds),
    )
    gateway = (
        _connector(firm_id, firm, firm.payments.gateway, tokens=tokens, http=shared_http, role="its payment gateway")
        if firm.payments is not None
        else None
    )
    return FirmRuntime(firm_id, firm, store, tokens, pms, runner, payment_gateway=gateway, http=shared_http)


def role_problems(firm_id: str, firm: FirmSettings) -> list[str]:
    """One line for each connector a firm names in a role it does not offer (core.connector.ConnectorRole).

    Checked from the connectors' classes, before anything connects: an activity source named as
    the PMS would otherwise sync and capture while writing nothing, and say nothing of why.
    """
    wanted = [("pms", firm.pms, ConnectorRole.PMS)]
    wanted += [("sources", name, ConnectorRole.ACTIVITY_SOURCE) for name in dict.fromkeys(firm.sources)]
    if firm.payments is not None:
        wanted.append(("payments.gateway", firm.payments.gateway, ConnectorRole.PAYMENT_GATEWAY))
    problems: list[str] = []
    if firm.pms in firm.sources:  # its activity is read as the PMS's already: a second poll would read it twice
        problems.append(f"firms.{firm_id}.sources: {firm.pms} is the PMS; drop it from sources")
    for key, name, role in wanted:
        try:
            roles: frozenset[ConnectorRole] = load(CONNECTORS, name).roles
        except ConfigError as exc:
            problems.append(f"firms.{firm_id}.{key}: {exc}")
            continue
        if role not in roles:
            able = ", ".join(connectors_offering(role))
            offers = " and ".join(_with_article(r) for r in sorted(roles)) or "nothing a firm can use"
            problems.append(f"firms.{firm_id}.{key}: {name} cannot be {_with_article(role)}, it is {offers} ")
            problems[-1] += f"({role} connectors installed: {able or 'none'})"
    return problems


def connectors_offering(role: ConnectorRole) -> list[str]:
    """The installed connectors (by name, sorted) that a firm may use in `role`."""
    return [name for name in names(CONNECTORS) if role in load(CONNECTORS, name).roles]


def _with_article(role: ConnectorRole) -> str:
    return f"an {role}" if role is ConnectorRole.ACTIVITY_SOURCE else f"a {role}"


def limiter_for(store: Store, firm_id: str) -> Limiter | None:
    """The rate limiter replicas share through the database (PostgreSQL); None: the in-process one.

    SQLite means one process, whose own limiter already sees every request."""
    return SharedRateLimiter(store.engine, firm_id) if store.engine.dialect.name != "sqlite" else None


def _connector(
    firm_id: str, firm: FirmSettings, name: str, *, tokens: TokenStore, http: HttpClient, role: str
) -> Connector:
    connector_class = load(CONNECTORS, name)
    section = firm.connector_settings(name)
    if section is None:
        raise ConfigError(f"firm {firm_id}: no [firms.{firm_id}.connectors.{name}] settings for {role}")
    try:
        connector_settings = connector_class.Settings(**section)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"firm {firm_id}, connector {name}: {problems}") from None
    ctx = Context(firm=firm_id, http=http, tokens=tokens, log=structlog.get_logger().bind(firm=firm_id, connector=name))
    built: Connector = connector_class(connector_settings, ctx)
    return built
