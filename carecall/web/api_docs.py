"""`/docs`: the API's interactive documentation (Swagger UI), served from this server.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script: blank
without internet, and refused by the Content-Security-Policy (`api.security_headers`). This one
loads Swagger UI from npm (`web/package.json`, under `/vendor/swagger-ui`) and starts it from a
static script. It reads only the public OpenAPI spec; trying an operation needs an API key or a
signed-in session, as the API always does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from carecall.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def api_docs(request: Request) -> Response:
    return render(request, "api_docs.html", openapi_url=request.app.openapi_url)
