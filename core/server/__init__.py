"""The daemon's HTTP server: webhooks, signed ingest, health and metrics (vendor-free)."""

from __future__ import annotations

from core.server.app import build_app
from core.server.worker import BackgroundWork

__all__ = ["BackgroundWork", "build_app"]
