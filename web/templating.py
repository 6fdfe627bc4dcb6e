"""Templates and static assets. Bootstrap and uPlot come from npm (`web/package.json`,
installed by scripts/run and scripts/test) and are served by this app: no CDN at run time."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from auth.dependencies import csrf_token

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.globals["csrf_token"] = csrf_token


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    vendor = WEB_DIR / "node_modules"
    if not (vendor / "bootstrap" / "dist").is_dir():
        raise RuntimeError(
            "The dashboard's assets are not installed: run `npm ci --prefix web` "
            "(scripts/run and scripts/test do this)."
        )
    app.mount("/vendor/bootstrap", StaticFiles(directory=vendor / "bootstrap" / "dist"), name="bootstrap")
    app.mount("/vendor/uplot", StaticFiles(directory=vendor / "uplot" / "dist"), name="uplot")


def render(request: Request, template: str, status_code: int = 200, **context: object):  # type: ignore[no-untyped-def]
    return templates.TemplateResponse(request, template, context, status_code=status_code)
