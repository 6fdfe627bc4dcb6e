"""Twilio's webhooks read their forms themselves (the OpenAPI spec has no fields for them), so
schemathesis can't fuzz past the signature check. Here hypothesis sends correctly signed
callbacks full of odd values: each gets a 2xx or a clear 4xx, never a server error."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from carecall.settings import Settings
from tests.api.support import app_state, make_client, place_call, signed_post
from tests.conftest import PUBLIC_BASE, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

WEBHOOKS = ["/twilio/voice", "/twilio/status", "/twilio/amd", "/twilio/sms"]
STATUSES = ["queued", "ringing", "in-progress", "completed", "busy", "no-answer", "failed"]
ODD_NUMBERS = ["²", "٣", "-1", "0", "9" * 30, "9" * 5000, "1e3", " 7", "", "NaN"]

_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="CA0123456789abcdef", min_size=30, max_size=5000),
)
_number = st.one_of(
    st.sampled_from(ODD_NUMBERS), st.integers(-10, 10**40).map(str), st.text(max_size=5)
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app, one for the module (for speed)."""
    database = tmp_path_factory.mktemp("webhooks") / "carecall.db"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{database}",
        twilio_account_sid=TEST_ACCOUNT_SID,
        twilio_auth_token=SecretStr(TEST_AUTH_TOKEN),
        twilio_phone_number="+15005550006",
        webhook_url=PUBLIC_BASE,
        openai_api_key=SecretStr("sk-test"),
        openai_base_url="http://127.0.0.1:9/v1",
        session_secret=SecretStr("test-session-secret-that-is-long-enough-0123"),
        log_level="CRITICAL",
        dispatcher_enabled=False,
        reconcile_calls=False,
    )
    yield from make_client(settings, FakeAsyncTwilioHttpClient())


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(
    path=st.sampled_from(WEBHOOKS),
    call_id=st.one_of(st.none(), st.just("1"), st.sampled_from(ODD_NUMBERS), st.text(max_size=8)),
    data=st.data(),
)
def test_signed_webhooks_never_answer_with_a_server_error(
    client: TestClient, path: str, call_id: str | None, data: st.DataObject
) -> None:
    # Often about a real call, new each time (a finished call ignores later callbacks), so odd
    # values reach the database.
    sid = place_call(client)["twilio_sid"]
    fields = st.fixed_dictionaries(
        {
            "CallSid": st.one_of(st.just(sid), _text),
            "CallStatus": st.one_of(st.sampled_from(STATUSES), _text),
        },
        optional={
            "SequenceNumber": _number,
            "CallDuration": _number,
            "MachineDetectionDuration": _number,
            "AnsweredBy": st.one_of(st.sampled_from(["human", "machine_end_beep"]), _text),
            "From": _text,
            "To": _text,
            "Body": _text,
            "MessageSid": _text,
        },
    )
    form = data.draw(fields, label="form")
    query = "" if call_id is None else "?" + urlencode({"call_id": call_id})
    response = signed_post(client, path + query, form)
    assert response.status_code < 500, (path + query, form, response.text)


@settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(
    path=st.sampled_from(["/twilio/handover/key", "/twilio/handover/status"]),
    leg=st.one_of(st.just("0"), st.sampled_from(ODD_NUMBERS), st.text(max_size=8)),
    data=st.data(),
)
def test_signed_hand_over_webhooks_never_answer_with_a_server_error(
    client: TestClient, path: str, leg: str, data: st.DataObject
) -> None:
    """With the right token for a real call (no hand-over runs for it here), so odd values get
    past the checks to the call's lookup and the event bus."""
    call = place_call(client)
    tokens = app_state(client).handovers.tokens
    valid_leg = leg.isascii() and leg.isdigit() and len(leg) <= 5
    token = tokens.issue(call["id"], int(leg)) if valid_leg else "x"
    fields = st.fixed_dictionaries(
        {
            "CallSid": st.one_of(st.just("CA" + "c" * 32), _text),
            "CallStatus": st.one_of(st.sampled_from(STATUSES), _text),
        },
        optional={"Digits": st.one_of(st.sampled_from(["1", "2", "#"]), _text), "To": _text},
    )
    form = data.draw(fields, label="form")
    query = urlencode({"call_id": call["id"], "leg": leg, "token": token})
    response = signed_post(client, f"{path}?{query}", form)
    assert response.status_code < 500, (path, query, form, response.text)
