"""The fake Twilio REST server answers the real SDK over real HTTP, like the in-process fakes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from carecall.settings import Settings
from carecall.telephony.twilio_client import CallbackUrls, NumberNotCallable, TwilioGateway
from tests.fakes.twilio_rest_server import FakeTwilioRestServer

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token"
CREATE_KWARGS: dict[str, Any] = {
    "to": "+14155550100",
    "from_": "+14155550199",
    "url": "https://carecall.example/twilio/voice?call_id=1",
    "status_callback": "https://carecall.example/twilio/status?call_id=1",
    "status_callback_event": ["initiated", "ringing", "answered", "completed"],
    "status_callback_method": "POST",
}
# The SDK's aiohttp client still passes `auth=`; aiohttp deprecates it. Not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio")


@pytest.fixture
async def server() -> AsyncIterator[FakeTwilioRestServer]:
    server = FakeTwilioRestServer()
    await server.start()
    yield server
    await server.stop()


def _client(base_url: str, **kwargs: Any) -> Client:
    client = Client(ACCOUNT_SID, AUTH_TOKEN, **kwargs)
    client.api.base_url = base_url
    return client


async def test_real_sync_client_places_updates_and_fetches_a_call(
    server: FakeTwilioRestServer,
) -> None:
    client = _client(server.base_url)  # the SDK's own requests-based HTTP client

    # The sync SDK blocks, so it runs in a thread while this loop serves it.
    call = await asyncio.to_thread(client.calls.create, **CREATE_KWARGS)

    assert call.sid is not None and call.sid.startswith("CA") and len(call.sid) == 34
    assert (call.status, call.to, call.direction) == ("queued", "+14155550100", "outbound-api")
    created = server.api.requests[-1]
    assert created.method == "POST"
    assert created.url == f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert created.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert created.data["Url"] == CREATE_KWARGS["url"]
    assert created.data["StatusCallbackEvent"] == CREATE_KWARGS["status_callback_event"]

    updated = await asyncio.to_thread(client.calls(call.sid).update, status="completed")
    assert updated.status == "completed"
    assert server.api.requests[-1].data == {"Status": "completed"}
    fetched = await asyncio.to_thread(client.calls(call.sid).fetch)
    assert fetched.status == "completed" and server.api.requests[-1].method == "GET"


async def test_async_client_over_plain_http_and_twilio_errors(
    server: FakeTwilioRestServer,
) -> None:
    http = AsyncTwilioHttpClient(timeout=5)  # what carecall uses: aiohttp
    try:
        client = _client(server.base_url, http_client=http)
        call = await client.calls.create_async(**CREATE_KWARGS)
        assert call.sid is not None and call.sid in server.api.calls

        server.api.queue_error(400, 21211, "The 'To' number +1555 is not a valid phone number.")
        with pytest.raises(TwilioRestException) as raised:
            await client.calls.create_async(**CREATE_KWARGS)
        assert (raised.value.status, raised.value.code) == (400, 21211)
        with pytest.raises(TwilioRestException) as missing:
            await client.calls("CA" + "f" * 32).fetch_async()
        assert (missing.value.status, missing.value.code) == (404, 20404)
    finally:
        await http.close()


async def test_carecall_gateway_uses_twilio_api_base_url(server: FakeTwilioRestServer) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        twilio_phone_number="+15005550006",
        twilio_api_base_url=server.base_url + "/",
    )
    gateway = TwilioGateway(settings)
    urls = CallbackUrls("https://carecall.example/voice", "https://carecall.example/status")

    placed = await gateway.place_call("+14155550100", urls)
    await gateway.end_call(placed.sid)
    await gateway.end_call("CA" + "e" * 32)  # an unknown call (404) is not an error
    server.api.queue_error(400, 21219, "Trial accounts can only call verified numbers.")
    with pytest.raises(NumberNotCallable):
        await gateway.place_call("+14155550100", urls)

    assert server.api.calls[placed.sid]["status"] == "completed"
    assert server.api.requests[0].data["From"] == "+15005550006"
    await gateway._require_client().http_client.close()  # the gateway has no close()


async def test_runs_as_its_own_process() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.twilio_rest_server",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        ready, _, base_url = line.decode().strip().partition(" ")
        assert ready == "READY" and base_url.startswith("http://127.0.0.1:")
        client = _client(base_url)
        call = await asyncio.to_thread(client.calls.create, **CREATE_KWARGS)
        assert call.status == "queued"
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
