"""How a request proves who it is.

- The API (`/api/*`) takes an API key (`Authorization: Bearer cc_…`) or an operator's session;
  state-changing requests on a session must also send the session's CSRF token in the
  `X-CSRF-Token` header (forms: a `csrf_token` field). Failures are JSON 401/403; more than
  API_RATE_LIMIT_PER_MINUTE requests by one key or session get 429 (`api.rate_limit`).
- Pages take a session; without one the browser is sent to the login page.
- The dashboard websocket takes a session (the cookie comes with the upgrade).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, WebSocket, status

from carecall.app_state import AppState, get_state
from carecall.auth.service import AuthService
from carecall.persistence.models import Operator

SESSION_TOKEN = "session"
"""The session cookie's token of a live server-side session (`auth.service`)."""
SESSION_CSRF = "csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    """Who is calling the API: an operator (by session) or a program (by API key)."""

    kind: str  # "operator" | "api_key"
    id: int
    name: str


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use), for forms and the page's JavaScript."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


async def log_in(request: Request, auth: AuthService, operator: Operator) -> None:
    request.session.clear()  # a new session on every sign-in (no session fixation)
    request.session[SESSION_TOKEN] = await auth.start_session(operator)
    csrf_token(request)


async def log_out(request: Request, auth: AuthService) -> None:
    """End the session on the server too: a copy of the cookie opens nothing afterwards."""
    token = request.session.get(SESSION_TOKEN)
    if isinstance(token, str):
        await auth.end_session(token)
    request.session.clear()


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not expected or not submitted or not secrets.compare_digest(str(expected), submitted):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "The security token of this page is missing or out of date. "
            "Reload the page and try again.",
        )


async def _session_operator(session: dict[str, Any], state: AppState) -> Operator | None:
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str):
        return None
    return await state.auth.session_operator(token)


async def api_principal(
    request: Request, state: Annotated[AppState, Depends(get_state)]
) -> Principal:
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, presented = authorization.partition(" ")
        key = (
            await state.auth.api_key_for(presented.strip()) if scheme.lower() == "bearer" else None
        )
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "This API key is not valid or has been revoked.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        state.api_rate_limit.check(f"api_key:{key.id}")
        return Principal("api_key", key.id, key.name)
    operator = await _session_operator(request.session, state)
    if operator is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Sign in, or send an API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    state.api_rate_limit.check(f"operator:{operator.id}")
    if request.method not in _SAFE_METHODS:
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return Principal("operator", operator.id, operator.email)


async def page_operator(
    request: Request, state: Annotated[AppState, Depends(get_state)]
) -> Operator:
    operator = await _session_operator(request.session, state)
    if operator is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return operator


async def websocket_operator(websocket: WebSocket, state: AppState) -> Operator | None:
    return await _session_operator(websocket.session, state)


def login_redirect_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="")


ApiPrincipal = Annotated[Principal, Depends(api_principal)]
PageOperator = Annotated[Operator, Depends(page_operator)]
