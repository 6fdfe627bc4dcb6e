"""Text messages and notice calls through `TwilioGateway`: the real Twilio SDK over the fake
HTTP client, asserting the exact requests, the SIDs returned and how Twilio's errors come back;
and the fake's Messages resource answering like Twilio."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.twilio_client import NumberNotCallable, TwilioError, TwilioGateway
from tests.conftest import TEST_ACCOUNT_SID
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient, FakeTwilioHttpClient

CAREGIVER = "+13125550111"
OUR_NUMBER = "+15005550006"
TWIML = "<Response><Say>Hello</Say></Response>"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
CALLS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Calls.json"


async def test_send_sms_posts_one_message_and_returns_its_sid(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    sid = await gateway.send_sms(CAREGIVER, "Please check on Mary.")

    assert sid.startswith("SM") and len(sid) == 34
    (request,) = fake.requests
    assert (request.method, request.url) == ("POST", MESSAGES_URL)
    assert request.data == {"To": CAREGIVER, "From": OUR_NUMBER, "Body": "Please check on Mary."}
    assert fake.messages[sid]["status"] == "queued"
    assert fake.messages[sid]["body"] == "Please check on Mary."
    assert fake.calls == {}


async def test_call_with_message_posts_inline_twiml_and_returns_the_call_sid(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    sid = await gateway.call_with_message(CAREGIVER, TWIML)

    assert sid.startswith("CA") and len(sid) == 34
    (request,) = fake.requests
    assert (request.method, request.url) == ("POST", CALLS_URL)
    assert request.data == {"To": CAREGIVER, "From": OUR_NUMBER, "Twiml": TWIML, "Timeout": 30}
    assert fake.calls[sid]["to"] == CAREGIVER
    assert fake.messages == {}


async def test_rate_limits_are_retried(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    fake.queue_error(429, 20429, "Too Many Requests")
    fake.queue_error(429, 20429, "Too Many Requests")
    sid = await gateway.send_sms(CAREGIVER, "Hello")
    assert len(fake.requests) == 3
    assert list(fake.messages) == [sid]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21614, "This phone number can't receive text messages (it isn't a mobile number)."),
        (21610, "This person has replied STOP to our texts"),
        (21211, "This phone number is not valid. Check the number and its country code."),
    ],
)
async def test_a_number_that_cant_get_texts_is_said_plainly(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient, code: int, message: str
) -> None:
    fake.queue_error(400, code, "Twilio's own words")
    with pytest.raises(NumberNotCallable) as raised:
        await gateway.send_sms(CAREGIVER, "Hello")
    assert raised.value.message.startswith(message)
    assert raised.value.code == code
    assert len(fake.requests) == 1
    assert fake.messages == {}


async def test_other_twilio_errors_name_what_failed(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    fake.queue_error(500, 20500, "Internal Server Error")
    with pytest.raises(TwilioError) as raised:
        await gateway.call_with_message(CAREGIVER, TWIML)
    assert not isinstance(raised.value, NumberNotCallable)
    assert raised.value.message == (
        "Twilio could not place a call: Unable to create record: Internal Server Error "
        "(Twilio error 20500)"
    )


async def test_without_twilio_settings_nothing_is_sent(
    make_settings: Callable[..., Settings], fake: FakeAsyncTwilioHttpClient
) -> None:
    gateway = TwilioGateway(make_settings(twilio_phone_number=None), fake)
    with pytest.raises(MissingConfiguration, match="TWILIO_PHONE_NUMBER"):
        await gateway.send_sms(CAREGIVER, "Hello")
    assert fake.requests == []


# --- the fake's Messages resource ----------------------------------------------------------------


def test_the_fake_checks_messages_as_twilio_does() -> None:
    fake = FakeTwilioHttpClient()
    client = Client(TEST_ACCOUNT_SID, "token", http_client=fake)

    for kwargs, code in (
        ({"to": CAREGIVER, "from_": OUR_NUMBER}, 21602),
        ({"to": CAREGIVER, "body": "Hi"}, 21603),
        ({"to": CAREGIVER, "from_": OUR_NUMBER, "body": "x" * 1601}, 21617),
    ):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(**kwargs)
        assert (raised.value.status, raised.value.code) == (400, code)
    assert fake.messages == {}

    long_body = "y" * 306
    message = client.messages.create(to=CAREGIVER, from_=OUR_NUMBER, body=long_body)
    assert message.sid is not None and message.sid.startswith("SM")
    assert (message.status, message.to, message.from_) == ("queued", CAREGIVER, OUR_NUMBER)
    assert message.num_segments == "2"
    fetched = client.messages(message.sid).fetch()
    assert fetched.body == long_body and fetched.direction == "outbound-api"
    with pytest.raises(TwilioRestException) as missing:
        client.messages("SM" + "0" * 32).fetch()
    assert missing.value.status == 404
