from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    InputDTMFFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup

from carecall.telephony.serializer import SafeTwilioSerializer


@pytest.fixture
async def serializer() -> SafeTwilioSerializer:
    s = SafeTwilioSerializer("MZ" + "0" * 32, "CA" + "0" * 32)
    unused: Any = None  # the serializer only reads the sample rate
    await s.setup(
        FrameProcessorSetup(
            clock=unused, task_manager=unused, pipeline_worker=unused, audio_in_sample_rate=8000
        )
    )
    return s


def _media(payload: str) -> str:
    return json.dumps(
        {"event": "media", "streamSid": "MZ", "media": {"track": "inbound", "payload": payload}}
    )


async def test_media_becomes_pcm_audio_40_ms_at_a_time(serializer: SafeTwilioSerializer) -> None:
    first = base64.b64encode(b"\xff" * 160).decode()  # μ-law silence: PCM 0
    second = base64.b64encode(b"\x80" * 160).decode()  # loudest positive: PCM 32124
    assert await serializer.deserialize(_media(first)) is None  # 20 ms: held
    frame = await serializer.deserialize(_media(second))
    assert isinstance(frame, InputAudioRawFrame)
    assert frame.sample_rate == 8000 and len(frame.audio) == 640  # 320 samples of 16-bit PCM
    samples = memoryview(frame.audio).cast("h")
    assert set(samples[:160]) == {0} and set(samples[160:]) == {32124}  # in order
    assert await serializer.deserialize(_media(first)) is None  # the next 40 ms start afresh


async def test_dtmf_becomes_a_keypad_frame(serializer: SafeTwilioSerializer) -> None:
    frame = await serializer.deserialize(json.dumps({"event": "dtmf", "dtmf": {"digit": "5"}}))
    assert isinstance(frame, InputDTMFFrame)


@pytest.mark.parametrize(
    "message",
    [
        "not json at all",
        b"\x00\x01binary",
        "[]",
        json.dumps({"event": 5}),
        json.dumps({"event": "surprise"}),
        json.dumps({"event": "media"}),
        json.dumps({"event": "media", "media": {"payload": 12}}),
        _media("!!!not base64!!!"),
        _media("A" * 100_000),
        json.dumps({"event": "dtmf", "dtmf": {}}),
    ],
)
async def test_malformed_messages_are_dropped_not_raised(
    serializer: SafeTwilioSerializer, message: str | bytes
) -> None:
    assert await serializer.deserialize(message) is None
    assert serializer.bad_messages == 1


async def test_marks_and_stop_are_understood(serializer: SafeTwilioSerializer) -> None:
    mark = {"event": "mark", "streamSid": "MZ", "mark": {"name": "m1"}}
    echoed = await serializer.deserialize(json.dumps(mark))
    assert isinstance(echoed, InputTransportMessageFrame)
    assert echoed.message == {"event": "mark", "name": "m1"}
    assert await serializer.deserialize(json.dumps({"event": "mark", "mark": {}})) is None
    assert serializer.bad_messages == 1
    serializer.bad_messages = 0
    assert await serializer.deserialize(json.dumps({"event": "stop", "stop": {}})) is None
    assert serializer.stopped and serializer.bad_messages == 0


async def test_barge_in_sends_clear(serializer: SafeTwilioSerializer) -> None:
    out = await serializer.serialize(InterruptionFrame())
    assert json.loads(str(out)) == {"event": "clear", "streamSid": "MZ" + "0" * 32}
