"""How an invalid request is answered: 422, a sentence for a person, and each problem listed.

FastAPI finds a body that is not JSON at all while it reads the body, before any dependency
runs: left alone, a request with a bad API key and a broken body would learn "422" (and that
the route exists and parses its body) instead of "401". So such a request is authenticated
first, exactly as its route would have done, and only then told that its body is not JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.responses import Response

from carecall.app_state import get_state
from carecall.auth.dependencies import api_principal

NOT_JSON = "The request body is not valid JSON."
API_PREFIX = "/api/"
"""Every route under it asks for credentials (`api_principal`; tests/auth proves it of each)."""


async def readable_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """The app's handler for `RequestValidationError`."""
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        refusal = await _authentication_refusal(request)
        if refusal is not None:
            return refusal
        return _invalid(NOT_JSON, [f"body: {_json_problem(errors)}"])
    problems = [
        f"{'.'.join(str(p) for p in error['loc'] if p != 'body') or 'body'}: {error['msg']}"
        for error in errors
    ]
    return _invalid("The request is not valid: " + "; ".join(problems), problems)


def _invalid(detail: str, problems: list[str]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": detail, "errors": problems})


def _json_problem(errors: Sequence[Any]) -> str:
    """What the JSON parser said, e.g. "Expecting ',' delimiter at character 9"."""
    error = next(e for e in errors if e.get("type") == "json_invalid")
    reason = (error.get("ctx") or {}).get("error") or "not valid JSON"
    position = error["loc"][-1] if error.get("loc") else None
    return f"{reason} at character {position}" if isinstance(position, int) else str(reason)


async def _authentication_refusal(request: Request) -> Response | None:
    """The answer the route's authentication gives this request (401, 403 for a session's
    missing CSRF token, 429, 503 with the database away), or None when it lets it through
    or the path is not the API's."""
    if not request.url.path.startswith(API_PREFIX):
        return None
    try:
        await api_principal(request, get_state(request))
    except Exception as refusal:  # answered by the app's own handler for it, as on the route
        return await _handled(request, refusal)
    return None


async def _handled(request: Request, exc: Exception) -> Response:
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc
