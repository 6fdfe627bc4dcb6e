"""TwiML carecall returns to Twilio."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Gather, VoiceResponse

OFFER_KEY_SECONDS = 8
"""How long a caregiver has to press a key after each reading of the offer."""


def media_stream_twiml(stream_url: str, parameters: dict[str, str]) -> str:
    """`<Connect><Stream>`: Twilio opens a bidirectional media websocket to `stream_url`.

    The URL must be wss:// and carry no query string; data travels as `<Parameter>`s and
    arrives in the stream's `start.customParameters`.
    """
    if not stream_url.startswith("wss://") or "?" in stream_url:
        raise ValueError("The media stream URL must be wss:// without a query string")
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def hangup_twiml() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def say_and_hang_up(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def caregiver_offer_twiml(summary: str, ask: str, action_url: str, goodbye: str) -> str:
    """A hand-over call to a caregiver (`calls.handover`): ``summary`` then ``ask`` ("press 1
    to talk to Mary now"), read twice (the first reading may be half heard while the phone
    comes to an ear); a key pressed during either is posted to ``action_url``. Nobody pressing
    anything hears ``goodbye`` and the call hangs up: the status callback then says it ended
    without an answer."""
    response = VoiceResponse()
    for _ in range(2):
        gather = Gather(num_digits=1, action=action_url, method="POST", timeout=OFFER_KEY_SECONDS)
        gather.say(summary)
        gather.say(ask)
        response.append(gather)
    response.say(goodbye)
    response.hangup()
    return str(response)


def conference_twiml(room: str, *, before: str | None = None, after: str | None = None) -> str:
    """Join the conference ``room`` (saying ``before`` first, if given). The conference starts
    as soon as the first leg is in, plays no beep, and ends when either leg leaves; the leg
    left behind then hears ``after`` and hangs up."""
    response = VoiceResponse()
    if before:
        response.say(before)
    dial = response.dial()
    dial.conference(
        room,
        beep=False,
        start_conference_on_enter=True,
        end_conference_on_exit=True,
        wait_url="",
    )
    if after:
        response.say(after)
    response.hangup()
    return str(response)
