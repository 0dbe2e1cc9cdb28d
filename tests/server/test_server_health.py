"""/healthz, /readyz and /metrics, and the JSON error shape, on apps built without a sandbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from billsync_sandboxes.cli.sandbox import write_sandbox_config
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from config.server import ServerSettings
from config.settings import BillsyncSettings, load_settings
from core.errors import ConfigError
from core.runtime import FirmRuntime, build_runtime
from core.server import BackgroundWork, build_app
from core.server.metrics import metrics_app
from core.store.store import Store
from tests.server.conftest import INGEST_SECRET, with_ingest_secret


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[BillsyncSettings, FirmRuntime]]:
    """A firm whose Clio is never dialled (port 9): enough for every path that needs no vendor."""
    config = tmp_path / "billsync.toml"
    write_sandbox_config(config, "http://127.0.0.1:9", ["clio"])
    settings = with_ingest_secret(load_settings(config), "demo", INGEST_SECRET)
    store = Store.open(settings.database_url)
    yield settings, build_runtime(settings, "demo", store)
    store.close()


@pytest.fixture
def worker() -> Iterator[BackgroundWork]:
    work = BackgroundWork()
    yield work
    work.close()


def test_healthz_and_readyz(offline, worker) -> None:
    settings, runtime = offline
    client = TestClient(build_app({"demo": runtime}, settings=settings, worker=worker))
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "firms": ["demo"]}


def test_readyz_names_the_firm_whose_database_does_not_answer(offline, worker, tmp_path: Path) -> None:
    settings, runtime = offline
    broken = dataclasses.replace(
        runtime, firm_id="other", store=Store(create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    )
    settings = settings.model_copy(update={"firms": {**settings.firms, "other": settings.firms["demo"]}})
    client = TestClient(build_app({"demo": runtime, "other": broken}, settings=settings, worker=worker))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"error": "database not answering for firm(s): other", "firms": ["other"]}
    assert "missing" not in answer.text  # no driver text: it can carry a database URL


def test_the_public_listener_serves_no_metrics_and_no_openapi_by_default(offline, worker) -> None:
    settings, runtime = offline
    app = build_app({"demo": runtime}, settings=settings, worker=worker)
    client = TestClient(app)
    client.post("/hooks/clio/demo", content=b"{}", headers={"x-hook-signature": "00"})
    assert client.get("/metrics").status_code == 404
    assert client.get("/openapi.json").status_code == 404
    own = TestClient(metrics_app(app.state.metrics.registry))  # what `billsync run --metrics-port` serves
    answer = own.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert 'billsync_webhook_deliveries_total{connector="clio",outcome="rejected"} 1.0' in answer.text
    assert own.get("/healthz").status_code == 404  # that listener serves the metrics only

    opened = settings.model_copy(update={"server": ServerSettings(openapi=True)})
    schema = TestClient(build_app({"demo": runtime}, settings=opened, worker=worker)).get("/openapi.json")
    assert schema.status_code == 200 and "/hooks/{connector}/{firm}" in schema.json()["paths"]


def test_metrics_exposition_and_one_registry_per_app(offline, worker) -> None:
    settings, runtime = offline
    settings = settings.model_copy(update={"server": ServerSettings(metrics_on_main_listener=True)})
    first = TestClient(build_app({"demo": runtime}, settings=settings, worker=worker))
    second = TestClient(build_app({"demo": runtime}, settings=settings, worker=worker))
    first.post("/hooks/clio/demo", content=b"{}", headers={"x-hook-signature": "00"})
    first.post("/ingest/demo", json={"activities": []})
    answer = first.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    for line in (
        'billsync_webhook_deliveries_total{connector="clio",outcome="rejected"} 1.0',
        'billsync_ingest_requests_total{outcome="rejected"} 1.0',
        "billsync_background_queue_depth 0.0",
        'billsync_webhook_handling_seconds_bucket{connector="clio",le="0.05"}',
        "# TYPE billsync_activities_captured_total counter",
    ):
        assert line in text, line
    assert "billsync_webhook_deliveries_total{" not in second.get("/metrics").text  # its own registry


def test_errors_are_json_without_detail(offline, worker) -> None:
    settings, runtime = offline
    client = TestClient(build_app({"demo": runtime}, settings=settings, worker=worker))
    assert client.get("/nowhere").json() == {"error": "Not Found"}
    wrong_method = client.get("/hooks/clio/demo")
    assert wrong_method.status_code == 405 and wrong_method.json() == {"error": "Method Not Allowed"}


def test_bad_ingest_secret_or_unknown_firm_fails_at_build(offline, worker) -> None:
    settings, runtime = offline
    bad = with_ingest_secret(settings, "demo", "whsec_not base64!")
    with pytest.raises(ConfigError, match="firm demo: ingest_secret"):
        build_app({"demo": dataclasses.replace(runtime, settings=bad.firms["demo"])}, settings=bad, worker=worker)
    with pytest.raises(ConfigError, match="ghost"):
        build_app({"ghost": runtime}, settings=settings, worker=worker)
