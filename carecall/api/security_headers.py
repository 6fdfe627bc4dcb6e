"""Security headers on every HTTP response: the pages show people's health information.

Every asset carecall serves is its own (Bootstrap, uPlot and Swagger UI come from npm, and each
page's script and styles are static files), so the Content-Security-Policy can be strict: no
inline script or style, nothing from another origin, no framing (clickjacking). `'self'` in
`connect-src` covers the dashboard's websocket on the same host (ws: and wss:). `data:` images
are Bootstrap's and Swagger UI's icons, drawn from their stylesheets.

A response that sets one of these headers itself keeps its own.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # For browsers that predate CSP's frame-ancestors.
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Page addresses carry call and person ids: never send them to another site.
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """Add `SECURITY_HEADERS` to every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
