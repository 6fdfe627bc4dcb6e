"""Every route that takes an id, in its path or its query, on both databases: an id no row can
have (past 32 bits, or 400 digits) is a clear 422 from the shared `persistence.ids.RowId`,
never a 500 from PostgreSQL's "value out of int32 range"."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from carecall.settings import Settings
from tests.api.support import add_api_key, signed_post
from tests.web.support import signed_in_client

TOO_BIG = ("2147483648", "9" * 400)
QUERIES = (
    "/api/calls?offset={n}",
    "/api/seniors?offset={n}",
    "/api/alerts?senior_id={n}",
    "/api/alerts?offset={n}",
    "/api/escalations?senior_id={n}",
    "/api/escalations?offset={n}",
)
SIGNED = ("/twilio/escalation-ack?escalation_id={n}&token=x",)
"""Twilio's webhooks (signed, so that the id is what is checked)."""


@pytest.fixture
def client(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    """Signed in for the pages (with the CSRF header), with an API key for the API."""
    for client in signed_in_client(make_settings(database_url=database_url)):
        client.headers["Authorization"] = f"Bearer {add_api_key(client)}"
        yield client


def _id_routes(routes: Iterable[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path) of every route with an id in its path. FastAPI 0.165 keeps an included
    router as one route that holds it (`original_router`); our routers carry their prefixes."""
    found = []
    for route in routes:
        if (included := getattr(route, "original_router", None)) is not None:
            found.extend(_id_routes(included.routes))
        elif isinstance(route, APIRoute) and re.search(r"\{\w+_id\}", route.path):
            found.extend((method, route.path) for method in sorted(route.methods or ()))
    return found


def test_every_id_in_a_path_is_checked_before_the_database(client: TestClient) -> None:
    routes = _id_routes(client.app.routes)  # type: ignore[attr-defined]
    assert len(routes) >= 30, routes
    answers = {}
    for method, path in routes:
        for n in TOO_BIG:
            url = re.sub(r"\{\w+_id\}", n, path)
            if path.startswith("/api/"):
                response = client.request(method, url, json={})
            else:  # a page's form
                csrf = {"csrf_token": client.headers["X-CSRF-Token"]}
                response = client.request(method, url, data=csrf if method == "POST" else None)
            answers[(method, path, n[:12])] = response.status_code
    assert {key: code for key, code in answers.items() if code != 422} == {}


def test_every_id_and_offset_in_a_query_is_checked(client: TestClient) -> None:
    answers = {}
    for query in QUERIES:
        for n in TOO_BIG:
            answers[(query, n[:12])] = client.get(query.format(n=n)).status_code
        for query in SIGNED:
            response = signed_post(client, query.format(n=n), {"Digits": "1"})
            answers[(query, n[:12])] = response.status_code
    assert {key: code for key, code in answers.items() if code != 422} == {}


def test_a_history_page_past_any_row_is_an_empty_page(client: TestClient) -> None:
    # The history page reads its query as typed, never a 422: a page no call can be on is empty.
    for n in TOO_BIG:
        response = client.get(f"/history?page={n}")
        assert response.status_code == 200, response.text[:300]
