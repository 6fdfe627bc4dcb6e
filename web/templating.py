"""Templates and static assets. Bootstrap and uPlot come from npm (`web/package.json`,
installed by scripts/run and scripts/test) and are served by this app: no CDN at run time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from auth.dependencies import csrf_token

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


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    vendor = WEB_DIR / "node_modules"
    if not (vendor / "bootstrap" / "dist").is_dir():
        raise RuntimeError(
            "The dashboard's assets are not installed: run `npm ci --prefix web` "
            "(scripts/run and scripts/test do this)."
        )
    app.mount(
        "/vendor/bootstrap", StaticFiles(directory=vendor / "bootstrap" / "dist"), name="bootstrap"
    )
    app.mount("/vendor/uplot", StaticFiles(directory=vendor / "uplot" / "dist"), name="uplot")


def render(request: Request, template: str, status_code: int = 200, **context: object) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status_code)
