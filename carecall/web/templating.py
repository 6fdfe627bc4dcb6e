"""Templates and static assets. Bootstrap, uPlot and Swagger UI come from npm
(`web/package.json`, installed by scripts/run and scripts/test) and are served by this app: no
CDN at run time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from carecall.auth.dependencies import csrf_token

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.globals["csrf_token"] = csrf_token


def _utc_text(value: str | None, pattern: str) -> str:
    """The fallback text of a `<time>`: UTC, until the page's script shows local time."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(UTC).strftime(pattern) + " UTC"


def _seconds(milliseconds: object) -> str:
    """An answer time as people say it: "1.5 s" (nothing for a blank template)."""
    return f"{milliseconds / 1000:.1f} s" if isinstance(milliseconds, int) else ""


templates.env.filters["seconds"] = _seconds
templates.env.filters["clock"] = lambda value: _utc_text(value, "%H:%M:%S")
templates.env.filters["moment"] = lambda value: _utc_text(value, "%Y-%m-%d %H:%M")


_VENDOR = {
    "bootstrap": "bootstrap/dist",
    "uplot": "uplot/dist",
    "swagger-ui": "swagger-ui-dist",
}
"""Where each npm package's browser files are (`web/node_modules/…`), served at `/vendor/<name>`."""


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    vendor = WEB_DIR / "node_modules"
    for name, folder in _VENDOR.items():
        if not (vendor / folder).is_dir():
            raise RuntimeError(
                "The dashboard's assets are not installed (or not all of them): run "
                "`npm ci --prefix carecall/web` (scripts/run and scripts/test do this)."
            )
        app.mount(f"/vendor/{name}", StaticFiles(directory=vendor / folder), name=name)


def render(request: Request, template: str, status_code: int = 200, **context: object) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status_code)
