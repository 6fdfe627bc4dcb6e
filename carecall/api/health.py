"""Routes for the operator's tools, outside the API schema and without sign-in: `/healthz`
(liveness: the process answers), `/readyz` (readiness, `observability.health`) and `/metrics`
(Prometheus, `observability.metrics`). Keep `/metrics` off the internet: scrape it on a private
network, or block it at the load balancer (README, "Running at scale")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from carecall.app_state import AppState, get_state
from carecall.observability.metrics import CONTENT_TYPE

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(get_state)]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    report = await state.readiness.check()
    return JSONResponse(report.body, status_code=200 if report.ready else 503)


@router.get("/metrics")
async def metrics(state: State) -> Response:
    await state.metrics.refresh()
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
