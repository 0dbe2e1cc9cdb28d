"""Starlette's TestClient, imported in one place with its httpx deprecation warning silenced.

Starlette 1.x prefers httpx2 for its TestClient; httpx still works and is what we pin, so the
warning says nothing a test could act on. (fastapi.testclient re-exports this same class.)
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

__all__ = ["TestClient"]
