"""Sign in and sign out, and the first-run setup of the first (administrator) account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import RedirectResponse, Response

from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import check_csrf, log_in, log_out
from carecall.auth.service import InvalidCredentials, SetupClosed, TooManyAttempts, WeakPassword
from carecall.web.templating import render

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(get_state)]


def _safe_next(next_path: str | None) -> str:
    """Only local paths: never redirect a signed-in operator to another site."""
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return "/"


@router.get("/login")
async def login_page(request: Request, state: State, next: str = "/") -> Response:
    return render(
        request,
        "login.html",
        next_path=_safe_next(next),
        operator=None,
        needs_setup=await state.auth.needs_setup(),
    )


@router.post("/login")
async def login(
    request: Request,
    state: State,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    address = request.client.host if request.client else "unknown"
    retry_after: int | None = None
    try:
        operator = await state.auth.authenticate(email, password, address)
    except InvalidCredentials:
        error, code = (
            "That email and password don't match an account.",
            status.HTTP_401_UNAUTHORIZED,
        )
    except TooManyAttempts as exc:
        error, code = str(exc), status.HTTP_429_TOO_MANY_REQUESTS
        retry_after = exc.retry_after
    else:
        await log_in(request, state.auth, operator)
        return RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    page = render(
        request,
        "login.html",
        code,
        error=error,
        email=email,
        next_path=_safe_next(next),
        operator=None,
        needs_setup=False,
    )
    if retry_after is not None:
        page.headers["Retry-After"] = str(retry_after)
    return page


@router.get("/setup")
async def setup_page(request: Request, state: State, code: str = "") -> Response:
    """The first account's form, from the link the server logs while it has no account."""
    if not await state.auth.needs_setup():
        return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    if not state.auth.is_setup_code(code):
        return render(
            request,
            "setup.html",
            status.HTTP_404_NOT_FOUND,
            error="This setup link is not valid: use the one in the server's log.",
            code="",
            operator=None,
        )
    return render(request, "setup.html", code=code, operator=None)


@router.post("/setup")
async def create_first_account(
    request: Request,
    state: State,
    code: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        operator = await state.auth.create_first_admin(code, email, password)
    except SetupClosed as exc:
        error, code_status = str(exc), status.HTTP_403_FORBIDDEN
    except (WeakPassword, ValueError) as exc:
        error, code_status = str(exc), status.HTTP_422_UNPROCESSABLE_CONTENT
    else:
        await log_in(request, state.auth, operator)
        return RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    return render(
        request, "setup.html", code_status, error=error, email=email, code=code, operator=None
    )


@router.post("/logout")
async def logout(
    request: Request, state: State, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf_token)
    await log_out(request, state.auth)
    return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
