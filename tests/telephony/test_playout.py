"""`Playout`: what the caller has heard of the bot, and holding the rest while they speak."""

from __future__ import annotations

import base64
import json
from typing import Any

from pipecat.frames.frames import (
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup

from carecall.telephony.playout import MAX_REPEAT_SECONDS, BotAudioHold, Playout
from carecall.telephony.serializer import SafeTwilioSerializer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def released(playout: Playout) -> list[str]:
    return [item.message for item in playout.release()]


def sentence(playout: Playout, name: str, chunks: int, seconds: float = 0.5) -> None:
    for i in range(chunks):
        playout.outgoing(f"{name}{i}", seconds=seconds)
    playout.outgoing(f"mark-{name}", mark=f"mark-{name}")


def test_a_hold_takes_the_sentence_being_heard_up_again_from_its_start() -> None:
    clock = Clock()
    playout = Playout(clock)
    sentence(playout, "a", 4)  # plays 100.0–102.0
    sentence(playout, "b", 4)  # plays 102.0–104.0 (all of it sent at once: Twilio buffers it)
    assert playout.echoed("mark-a")
    clock.now = 102.7  # 0.7 s into b
    assert playout.hold() is True  # unheard audio at Twilio: clear it
    assert playout.outgoing("c0", seconds=0.5) is False  # the pipeline goes on: held
    clock.now = 103.5
    assert released(playout) == ["b0", "b1", "b2", "b3", "mark-b", "c0"]
    assert not playout.holding


def test_a_long_sentence_is_taken_up_just_before_where_the_caller_stopped_hearing_it() -> None:
    clock = Clock()
    playout = Playout(clock)
    sentence(playout, "a", 20, seconds=0.25)  # 5 s of one sentence
    clock.now = 100.0 + MAX_REPEAT_SECONDS + 0.6  # 3.6 s in: chunk 14 is playing
    playout.hold()
    assert released(playout)[:3] == ["a12", "a13", "a14"]  # from 0.5 s before


def test_a_hold_with_everything_heard_repeats_nothing_and_clears_nothing() -> None:
    clock = Clock()
    playout = Playout(clock)
    sentence(playout, "a", 2)
    clock.now = 102.0  # all played; the model is still writing the next sentence
    assert playout.hold() is False
    playout.outgoing("b0", seconds=0.5)
    assert released(playout) == ["b0"]


def test_an_interruption_drops_what_was_held() -> None:
    clock = Clock()
    playout = Playout(clock)
    sentence(playout, "a", 4)
    clock.now = 100.6
    playout.hold()
    playout.outgoing("a-late", seconds=0.5)
    playout.reset()
    assert released(playout) == []
    assert playout.outgoing("next", seconds=0.5) is True


def test_only_the_echoes_a_hold_caused_are_swallowed() -> None:
    clock = Clock()
    playout = Playout(clock)
    sentence(playout, "a", 2)
    sentence(playout, "b", 2)
    clock.now = 101.2  # in b: a's mark was played but its echo is still on the way
    playout.hold()
    assert playout.echoed("mark-a") is True  # really heard
    assert playout.echoed("mark-b") is False  # echoed by the clear: b was not heard
    released(playout)
    assert playout.echoed("mark-b") is True  # the second time, after b was played again


def _ulaw_payloads(messages: list[str]) -> list[bytes]:
    return [
        base64.b64decode(m["media"]["payload"])
        for m in map(json.loads, messages)
        if m["event"] == "media"
    ]


async def test_the_serializer_holds_with_a_clear_and_gives_back_through_the_websocket() -> None:
    sent: list[str] = []

    async def send(message: str) -> None:
        sent.append(message)

    clock = Clock()
    serializer = SafeTwilioSerializer("MZ" + "1" * 32, None, send=send, playout=Playout(clock))
    unused: Any = None
    await serializer.setup(
        FrameProcessorSetup(
            clock=unused, task_manager=unused, pipeline_worker=unused, audio_in_sample_rate=8000
        )
    )
    loud = OutputAudioRawFrame(b"\x00\x40" * 4000, sample_rate=8000, num_channels=1)  # 0.5 s
    mark = OutputTransportMessageFrame(
        message={"event": "mark", "streamSid": "MZ", "mark": {"name": "spoken-1"}}
    )
    assert await serializer.serialize(loud) is not None
    assert await serializer.serialize(mark) is not None
    assert await serializer.serialize(loud) is not None
    clock.now = 100.2  # the caller speaks over the first half second

    clear = await serializer.serialize(BotAudioHold(hold=True))
    assert clear is not None and json.loads(clear) == {
        "event": "clear",
        "streamSid": "MZ" + "1" * 32,
    }
    assert await serializer.serialize(loud) is None  # held, not sent
    echo = json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": "spoken-1"}})
    assert await serializer.deserialize(echo) is None  # the clear's echo: not heard

    assert await serializer.serialize(BotAudioHold(hold=False)) is None
    # Given back in order: the first sentence again, its mark, then everything since.
    assert [json.loads(m)["event"] for m in sent] == ["media", "mark", "media", "media"]
    assert all(len(p) == 4000 for p in _ulaw_payloads(sent))
    heard = await serializer.deserialize(echo)  # played this time
    assert isinstance(heard, InputTransportMessageFrame)

    # An interruption drops a hold: nothing comes back.
    await serializer.serialize(BotAudioHold(hold=True))
    await serializer.serialize(loud)
    assert await serializer.serialize(InterruptionFrame()) is not None
    sent.clear()
    await serializer.serialize(BotAudioHold(hold=False))
    assert sent == []
