"""Several vendor sandboxes on one loopback port: mounting, listing, start and stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from billsync_sandboxes.kit.server import VendorSandbox, build_server_app
from fastapi import FastAPI, Request

from core.serving import run_in_thread, serve

ROOT = Path(__file__).resolve().parents[3]


class DummySandbox:
    """A vendor's sandbox with one API route and one admin route."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.records: list[dict[str, str]] = []

    def api_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/items")
        def items(request: Request) -> dict[str, object]:
            # The mount prefix must reach the app, as vendor sandboxes build paging links from it.
            return {"vendor": self.vendor, "items": self.records, "self": str(request.url)}

        return app

    def admin_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/items", status_code=201)
        def add(item: dict[str, str]) -> dict[str, str]:
            self.records.append(item)
            return item

        return app


def test_dummy_sandbox_satisfies_the_protocol() -> None:
    sandbox: VendorSandbox = DummySandbox("alpha")
    assert callable(sandbox.api_app())


@pytest.fixture
def running() -> Iterator[str]:
    app = build_server_app({"beta": DummySandbox("beta"), "alpha": DummySandbox("alpha")})
    port, stop = run_in_thread(app)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop()


def test_two_vendors_are_served_under_their_prefixes(running: str) -> None:
    listed = requests.get(f"{running}/_sandbox", timeout=5)
    assert listed.status_code == 200
    assert listed.json() == {
        "sandboxes": [
            {"name": "alpha", "api": "/alpha", "admin": "/_sandbox/alpha"},
            {"name": "beta", "api": "/beta", "admin": "/_sandbox/beta"},
        ]
    }
    added = requests.post(f"{running}/_sandbox/alpha/items", json={"name": "one"}, timeout=5)
    assert added.status_code == 201

    alpha = requests.get(f"{running}/alpha/api/items", timeout=5).json()
    beta = requests.get(f"{running}/beta/api/items", timeout=5).json()
    assert alpha == {"vendor": "alpha", "items": [{"name": "one"}], "self": f"{running}/alpha/api/items"}
    assert beta["vendor"] == "beta"
    assert beta["items"] == []
    assert requests.get(f"{running}/gamma/api/items", timeout=5).status_code == 404


def test_stop_closes_the_port() -> None:
    port, stop = run_in_thread(build_server_app({"alpha": DummySandbox("alpha")}))
    assert requests.get(f"http://127.0.0.1:{port}/_sandbox", timeout=5).status_code == 200
    stop()
    stop()  # stopping twice is harmless
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_sandbox", timeout=2)


def test_a_busy_port_raises() -> None:
    port, stop = run_in_thread(build_server_app({}))
    try:
        with pytest.raises(OSError, match="did not start"):
            run_in_thread(build_server_app({}), port=port)
    finally:
        stop()


def test_serve_raises_instead_of_exiting_when_the_port_is_busy() -> None:
    port, stop = run_in_thread(build_server_app({}))
    try:
        with pytest.raises(OSError, match="could not listen"):
            serve(build_server_app({}), port=port, on_ready=lambda _: pytest.fail("not ready"))
    finally:
        stop()


@pytest.mark.parametrize("name", ["_sandbox", "Clio", "a/b", ""])
def test_bad_vendor_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid sandbox name"):
        build_server_app({name: DummySandbox(name)})


SERVE_SCRIPT = textwrap.dedent(
    """
    import sys
    from fastapi import FastAPI
    from billsync_sandboxes.kit.server import build_server_app
    from core.serving import serve

    class Dummy:
        def api_app(self):
            app = FastAPI()
            app.get("/ping")(lambda: {"pong": True})
            return app

        def admin_app(self):
            return FastAPI()

    serve(build_server_app({"dummy": Dummy()}), port=0, on_ready=lambda port: print(port, flush=True))
    print("returned", flush=True)
    """
)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_returns_normally_on_a_stop_signal(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        assert requests.get(f"http://127.0.0.1:{port}/dummy/ping", timeout=5).json() == {"pong": True}
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.strip() == "returned"
