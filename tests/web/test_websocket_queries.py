"""Every websocket's query string, fuzzed, on both databases: whatever the browser (or anyone)
puts there, the server answers with a snapshot or closes with the code that says why, and logs
no error. A call id past 32 bits once reached PostgreSQL (asyncpg's "value out of int32
range"), crashing the handler after it had accepted: the browser saw 1006, with no reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import hypothesis
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from loguru import logger
from starlette.websockets import WebSocketDisconnect

from carecall.persistence.ids import MAX_ROW_ID
from carecall.settings import Settings
from tests.web.support import signed_in_client, store_call

BAD_REQUEST = 4400
NOT_FOUND = 4404
POLICY_VIOLATION = 1008
EXAMPLES = 150


@pytest.fixture
def browser(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    yield from signed_in_client(make_settings(database_url=database_url))


@pytest.fixture
def errors() -> Iterator[list[str]]:
    found: list[str] = []
    sink = logger.add(lambda message: found.append(str(message)), level="ERROR")
    yield found
    logger.remove(sink)


def first_answer(client: TestClient, url: str) -> tuple[str, int | None, str]:
    """("snapshot", None, "") or ("closed", code, reason)."""
    try:
        with client.websocket_connect(url) as ws:
            message = ws.receive_json()
    except WebSocketDisconnect as closed:
        return "closed", closed.code, closed.reason
    return str(message["type"]), None, ""


@pytest.mark.parametrize(
    "call_id", ["2147483648", "9" * 400, "0", "-1", "7.0", " 7", "+7", "7_0", "٧", "0x10", ""]
)
def test_a_call_id_that_cannot_be_one_is_a_clear_close(
    browser: TestClient, errors: list[str], call_id: str
) -> None:
    answer = first_answer(browser, f"/ws/dashboard?call_id={call_id}")
    assert answer[:2] == ("closed", BAD_REQUEST)
    assert "whole number from 1 to 2147483647" in answer[2]
    assert errors == []


def test_the_largest_id_is_just_not_found(browser: TestClient, errors: list[str]) -> None:
    answer = first_answer(browser, f"/ws/dashboard?call_id={MAX_ROW_ID}")
    assert answer[:2] == ("closed", NOT_FOUND)
    assert errors == []


_NUMBERS = st.one_of(
    st.integers(), st.integers(min_value=2**31 - 3, max_value=2**31 + 3), st.integers(-2, 2)
).map(str)
_VALUES = st.one_of(
    _NUMBERS,
    st.text(max_size=40),
    st.text(alphabet="0123456789", min_size=11, max_size=400),
    st.sampled_from(["", "null", "1e3", "１", "3 ", "%00", "[]"]),
)
_QUERIES = st.dictionaries(
    st.one_of(st.sampled_from(["call_id", "after", "stream"]), st.text(max_size=10)),
    _VALUES,
    max_size=4,
)


def test_fuzzed_queries_on_every_websocket(browser: TestClient, errors: list[str]) -> None:
    known = store_call(browser)

    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(query=_QUERIES, path=st.sampled_from(["/ws/dashboard", "/ws", "/ws/demo"]))
    @hypothesis.example(query={"call_id": str(known)}, path="/ws/dashboard")
    @hypothesis.example(query={"call_id": "2147483648"}, path="/ws/dashboard")
    @hypothesis.example(query={"after": "9" * 400, "stream": "x"}, path="/ws/dashboard")
    @hypothesis.example(query={"call_id": "9" * 400}, path="/ws")
    def check(query: dict[str, str], path: str) -> None:
        answer = first_answer(browser, f"{path}?{urlencode(query)}")
        if path == "/ws/dashboard":
            call_id = query.get("call_id")
            if call_id is None or call_id == str(known):
                assert answer[0] == "snapshot"
            else:
                assert answer[:2] in {("closed", BAD_REQUEST), ("closed", NOT_FOUND)}, answer
        else:
            # The media streams are Twilio's (signed) and the demo's (loopback, with a start
            # message): a query string changes nothing, the socket is refused with its reason.
            assert answer[:2] == ("closed", POLICY_VIOLATION), answer
        assert errors == []

    check()
