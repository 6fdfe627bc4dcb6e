"""`/api-keys`: the API keys programs use (`Authorization: Bearer …`): create, see, revoke.

A new key is shown once, on the page that created it; only its hash is stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import RedirectResponse, Response

from carecall.app_state import AppState, get_state
from carecall.auth.dependencies import PageOperator, check_csrf
from carecall.persistence.ids import RowId
from carecall.web.templating import render

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(get_state)]


async def _page(
    request: Request,
    state: AppState,
    operator: object,
    *,
    status_code: int = 200,
    **context: object,
) -> Response:
    keys = await state.auth.api_keys.list_all()
    return render(
        request,
        "api_keys.html",
        status_code,
        operator=operator,
        active="api-keys",
        keys=keys,
        **context,
    )


@router.get("/api-keys")
async def api_keys_page(request: Request, state: State, operator: PageOperator) -> Response:
    return await _page(request, state, operator)


@router.post("/api-keys")
async def create_api_key(
    request: Request,
    state: State,
    operator: PageOperator,
    name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        created = await state.auth.create_api_key(name)
    except ValueError as exc:
        return await _page(
            request, state, operator, status_code=422, name_error=str(exc), name=name
        )
    return await _page(
        request,
        state,
        operator,
        status_code=201,
        new_key=created.secret,
        new_key_name=created.record.name,
    )


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(
    request: Request,
    key_id: RowId,
    state: State,
    _operator: PageOperator,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    await state.auth.api_keys.revoke(key_id)
    return RedirectResponse("/api-keys", status.HTTP_303_SEE_OTHER)
