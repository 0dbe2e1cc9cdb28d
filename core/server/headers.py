"""Security headers on every answer: no framing, no type sniffing, and pages that run only their own scripts.

A page's inline scripts carry a nonce made for that one answer (`csp_nonce(request)`); an
attribute, a link or a vendor's text that became markup has none, so the browser refuses to run
it. plotly.js is loaded from the daemon itself. Styles stay inline: plotly.js sets them on what it draws.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NONCE = "csp_nonce"  # key in the request's state
# Answers that are not pages (JSON, plotly.js, metrics) may load and frame nothing.
_NOT_A_PAGE = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def page_policy(nonce: str) -> str:
    """The Content-Security-Policy of an HTML page whose inline scripts carry `nonce`."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


def csp_nonce(request: Request) -> str:
    """The nonce this answer's Content-Security-Policy allows inline scripts by."""
    nonce: str = request.scope["state"][_NONCE]
    return nonce


class SecurityHeaders:
    """ASGI middleware: a fresh nonce per request, and the headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[_NONCE] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                page = headers.get("content-type", "").startswith("text/html")
                headers["Content-Security-Policy"] = page_policy(nonce) if page else _NOT_A_PAGE
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)
