"""Serve several vendor sandboxes on one loopback port (`billsync sandbox`, `billsync demo`).

Each vendor's API is mounted at `/{name}` and its admin API at `/_sandbox/{name}`;
`GET /_sandbox` lists what is mounted. Nothing here knows any vendor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

ADMIN_PREFIX = "/_sandbox"
# Lower-case names that cannot collide with the admin prefix or need URL escaping.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class VendorSandbox(Protocol):
    """A vendor's sandbox: an API app and an admin app, both ASGI."""

    def api_app(self) -> ASGIApp:
        """Return the app that answers like the vendor's API."""
        ...

    def admin_app(self) -> ASGIApp:
        """Return the app that seeds records, acts as a person and injects faults."""
        ...


def mount_path(name: str) -> str:
    """Where `build_server_app` mounts the API of the sandbox served under `name`."""
    return f"/{name}"


def api_root(base_url: str, name: str) -> str:
    """The URL the API of the sandbox served under `name` answers at, on a server at base_url."""
    return base_url.rstrip("/") + mount_path(name)


def build_server_app(sandboxes: Mapping[str, VendorSandbox]) -> FastAPI:
    """Mount each sandbox's API at /{name} and its admin API at /_sandbox/{name}."""
    for name in sandboxes:
        if not _NAME.match(name):
            raise ValueError(f"invalid sandbox name {name!r}: use lower-case letters, digits, '-' and '_'")
    names = sorted(sandboxes)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    # Registered before the mounts, so /_sandbox itself is never taken for a vendor path.
    @app.get(ADMIN_PREFIX)
    def list_sandboxes() -> JSONResponse:
        return JSONResponse({"sandboxes": [{"name": n, "api": f"/{n}", "admin": f"{ADMIN_PREFIX}/{n}"} for n in names]})

    for name in names:
        sandbox = sandboxes[name]
        app.mount(f"{ADMIN_PREFIX}/{name}", sandbox.admin_app())
        app.mount(mount_path(name), sandbox.api_app())
    return app
