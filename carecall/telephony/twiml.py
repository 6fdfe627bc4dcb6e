"""TwiML carecall returns to Twilio."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, VoiceResponse


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
