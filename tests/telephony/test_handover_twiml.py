"""What Twilio is given for a warm hand-over (`calls.handover`): the caregiver's offer, the
conference both legs join, the short goodbyes; the tokens that bind its webhooks; and the
gateway's two requests for it (calling a caregiver with inline TwiML and status callbacks,
redirecting a live call), through the real SDK over the fake HTTP client."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from carecall.telephony.security import CallTokens, HandoverTokens
from carecall.telephony.twilio_client import TwilioError, TwilioGateway
from carecall.telephony.twiml import (
    OFFER_KEY_SECONDS,
    caregiver_offer_twiml,
    conference_twiml,
    say_and_hang_up,
)
from tests.conftest import PUBLIC_BASE
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

ACTION = f"{PUBLIC_BASE}/twilio/handover/key?call_id=7&leg=0&token=abc"


def test_the_offer_is_read_twice_with_a_key_press_then_a_goodbye() -> None:
    xml = caregiver_offer_twiml(
        "This is Sunny from Sunny Care. Molly told me: “I fell & can't get up.”",
        "Press 1 to talk to Molly now, or hang up if you can't.",
        ACTION,
        "We didn't hear a key press. Goodbye.",
    )
    root = ET.fromstring(xml)
    assert [child.tag for child in root] == ["Gather", "Gather", "Say", "Hangup"]
    for gather in root.findall("Gather"):
        assert gather.get("numDigits") == "1"
        assert gather.get("action") == ACTION  # the query's & escaped in XML, intact once read
        assert gather.get("method") == "POST"
        assert gather.get("timeout") == str(OFFER_KEY_SECONDS)
        said = [say.text or "" for say in gather.findall("Say")]
        assert said[0] == "This is Sunny from Sunny Care. Molly told me: “I fell & can't get up.”"
        assert said[1].startswith("Press 1")
    assert "&amp;" in xml  # escaped, so the quote can't break the document


def test_the_conference_starts_at_once_without_a_beep_and_ends_with_either_leg() -> None:
    root = ET.fromstring(
        conference_twiml("carecall-7-abc", before="Connecting you now.", after="Goodbye.")
    )
    assert [child.tag for child in root] == ["Say", "Dial", "Say", "Hangup"]
    conference = root.find("Dial/Conference")
    assert conference is not None and conference.text == "carecall-7-abc"
    assert conference.get("beep") == "false"
    assert conference.get("startConferenceOnEnter") == "true"
    assert conference.get("endConferenceOnExit") == "true"
    assert [child.tag for child in ET.fromstring(conference_twiml("r"))] == ["Dial", "Hangup"]


def test_say_and_hang_up() -> None:
    root = ET.fromstring(say_and_hang_up("Goodbye <now>."))
    assert [(child.tag, child.text) for child in root] == [
        ("Say", "Goodbye <now>."),
        ("Hangup", None),
    ]


def test_hand_over_tokens_bind_the_call_and_the_leg_and_name_an_unguessable_room() -> None:
    tokens = HandoverTokens("secret")
    token = tokens.issue(7, 0)
    assert tokens.verify(7, 0, token)
    assert not tokens.verify(7, 1, token)
    assert not tokens.verify(8, 0, token)
    assert not HandoverTokens("another secret").verify(7, 0, token)
    assert token != CallTokens("secret").issue(7)  # a media stream's token is no leg's token
    room = tokens.room(7)
    assert room.startswith("carecall-7-") and len(room) > 30
    assert room != tokens.room(8) and room != HandoverTokens("another secret").room(7)


async def test_calling_a_caregiver_sends_inline_twiml_and_asks_for_every_status(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    twiml = say_and_hang_up("Hello.")
    status_url = f"{PUBLIC_BASE}/twilio/handover/status?call_id=7&leg=0&token=abc"
    sid = await gateway.call_caregiver("+14155550191", twiml, status_url)
    request = fake.requests[-1]
    assert request.url.endswith("/Calls.json") and sid in fake.calls
    assert request.data["To"] == "+14155550191"
    assert request.data["From"] == "+15005550006"
    assert request.data["Twiml"] == twiml
    assert request.data["StatusCallback"] == status_url
    assert request.data["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert request.data["StatusCallbackMethod"] == "POST"
    assert int(request.data["Timeout"]) >= 15
    assert "Url" not in request.data


async def test_calling_a_caregiver_is_not_repeated_after_a_server_error(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    fake.queue_error(500, 20500, "Internal Server Error")
    with pytest.raises(TwilioError):
        await gateway.call_caregiver("+14155550191", say_and_hang_up("Hi."), PUBLIC_BASE)
    assert len(fake.requests) == 1  # Tom could have been rung already


async def test_redirecting_a_live_call_runs_new_twiml_and_the_fake_keeps_its_room(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    sid = await gateway.call_caregiver("+14155550191", say_and_hang_up("Hi."), PUBLIC_BASE)
    fake.set_call_status(sid, "in-progress")
    await gateway.redirect(sid, conference_twiml("room-1"))
    assert fake.requests[-1].data == {"Twiml": conference_twiml("room-1")}
    assert fake.conferences == {"room-1": [sid]}
