"""A call's recording: the mix as the caller heard it (`PlayedMix`: Twilio's playout buffer, a
clear cutting what had not played), the file written by a thread of its own from what the
serializer tells it (`LineRecording`), and nothing on the real-time path ever waiting for it."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from pipecat.frames.frames import InterruptionFrame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameProcessorSetup

from carecall.telephony import recording as recording_module
from carecall.telephony.recording import LineRecording, PlayedMix
from carecall.telephony.serializer import SafeTwilioSerializer

RATE = 8000
CHUNK = 320  # 40 ms, as pipecat sends the bot's audio and we hand the caller's on
BOT_LEVEL = 4000
CALLER_LEVEL = -3000


def _tone(level: int, samples: int = CHUNK) -> np.ndarray:
    return np.full(samples, level, np.int16)


Event = tuple[float, str, np.ndarray | None]


def _speech(start: float, seconds: float, level: int = BOT_LEVEL) -> list[Event]:
    """The bot's audio sent ahead of playback: a 40 ms chunk every 20 ms, twice as fast as it
    plays (pipecat paces it about as fast as it plays; a burst, such as the silence it sends at
    the end, goes faster still), from ``start``."""
    count = round(seconds * RATE / CHUNK)
    return [(start + i * CHUNK / RATE / 2, "bot", _tone(level)) for i in range(count)]


def _line(start: float, until: float, level: int = 0) -> list[Event]:
    """The caller's audio arriving in real time, 40 ms at a time (each at its end)."""
    count = round((until - start) * RATE / CHUNK)
    return [(start + (i + 1) * CHUNK / RATE, "caller", _tone(level)) for i in range(count)]


def _clear(at: float) -> list[Event]:
    return [(at, "clear", None)]


def _play(mix: PlayedMix, events: list[Event], *, closed_at: float) -> np.ndarray:
    """Everything happening in time order, the mix taken as it settles, then the line closed."""
    taken = []
    for at, kind, samples in sorted(events, key=lambda event: event[0]):
        if kind == "clear":
            mix.clear(at)
        else:
            assert samples is not None
            getattr(mix, kind)(samples, at)
        taken.append(mix.settled())
    return np.concatenate([*taken, mix.finish(closed_at)])


def _at(seconds: float) -> int:
    return round(seconds * RATE)


def test_an_answer_cleared_on_barge_in_stops_where_the_caller_stopped_hearing_it() -> None:
    # From 0.5 s the bot says a 2 s answer, all of it sent by 1.5 s. The caller interrupts:
    # at 1.7 s Twilio is told to clear. They heard 0.5-1.7 s of it; the 0.8 s still queued at
    # Twilio was sent but never played.
    events = _line(0.0, 3.0) + _speech(0.5, 2.0) + _clear(1.7)
    assert max(at for at, kind, _ in events if kind == "bot") < 1.5
    audio = _play(PlayedMix(RATE), events, closed_at=3.0)

    assert len(audio) == _at(3.0)
    assert not audio[: _at(0.5)].any()
    assert (audio[_at(0.5) : _at(1.7)] == BOT_LEVEL).all()
    assert not audio[_at(1.7) :].any(), "what was sent but cleared is not in the recording"


def test_the_bot_audio_plays_after_what_is_queued_before_it_not_when_it_was_sent() -> None:
    # A 1 s sentence from 0.2 s (sent by 0.7 s), then one of 0.48 s sent from 0.8 s: it plays
    # when the first has, from 1.2 s.
    events = _line(0.0, 2.0) + _speech(0.2, 1.0) + _speech(0.8, 0.48, level=-BOT_LEVEL)
    audio = _play(PlayedMix(RATE), events, closed_at=2.0)

    assert not audio[: _at(0.2)].any()
    assert (audio[_at(0.2) : _at(1.2)] == BOT_LEVEL).all()
    assert (audio[_at(1.2) : _at(1.68)] == -BOT_LEVEL).all()
    assert not audio[_at(1.68) :].any()


def test_both_sides_are_mixed_on_one_timeline() -> None:
    # The bot talks 1.0-1.52 s; the caller from 1.4 s to the end.
    events = _line(0.0, 1.4) + _line(1.4, 2.0, level=CALLER_LEVEL) + _speech(1.0, 0.52)
    audio = _play(PlayedMix(RATE), events, closed_at=2.0)

    assert len(audio) == _at(2.0)
    assert not audio[: _at(1.0)].any()
    assert (audio[_at(1.0) : _at(1.4)] == BOT_LEVEL).all()
    assert (audio[_at(1.4) : _at(1.52)] == BOT_LEVEL + CALLER_LEVEL).all()  # both at once
    assert (audio[_at(1.52) : _at(2.0)] == CALLER_LEVEL).all()


def test_a_pause_in_the_callers_stream_resumes_where_their_audio_arrived() -> None:
    # Two chunks, then nothing for a second, then one more.
    events = _line(0.0, 0.08, level=CALLER_LEVEL) + _line(1.0, 1.04, level=CALLER_LEVEL)
    audio = _play(PlayedMix(RATE), events, closed_at=1.04)

    assert len(audio) == _at(1.04)
    assert (audio[: _at(0.08)] == CALLER_LEVEL).all()
    assert not audio[_at(0.08) : _at(1.0)].any()
    assert (audio[_at(1.0) :] == CALLER_LEVEL).all()


def test_what_had_not_played_when_the_line_closed_is_not_in_the_recording() -> None:
    # 2 s of speech, sent by 1.0 s; the line closes at 1.5 s.
    audio = _play(PlayedMix(RATE), _speech(0.0, 2.0), closed_at=1.5)

    assert len(audio) == _at(1.5)
    assert (audio == BOT_LEVEL).all()


def test_settled_audio_is_what_no_later_clear_can_change() -> None:
    mix = PlayedMix(RATE, settle=1.0)
    taken = _play(mix, _line(0.0, 2.0) + _speech(0.0, 4.0), closed_at=2.0)
    assert len(taken) == _at(2.0)
    assert (taken == BOT_LEVEL).all()
    assert mix.seconds == pytest.approx(2.0)

    mix = PlayedMix(RATE, settle=1.0)
    for at, kind, samples in sorted(_line(0.0, 2.0) + _speech(0.0, 4.0), key=lambda e: e[0]):
        getattr(mix, kind)(samples, at)
    settled = mix.settled()
    assert len(settled) == _at(1.0)  # up to a second behind the newest audio


class _Clock:
    """The recording's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pcm(level: int, samples: int = CHUNK) -> bytes:
    return _tone(level, samples).tobytes()


def _rms(audio: np.ndarray, start: float, end: float) -> float:
    part = audio[_at(start) : _at(end)].astype(np.float64)
    return float(np.sqrt(np.mean(part**2)))


def _voice(level: int, seconds: float) -> bytes:
    """A 300 Hz tone (Opus is lossy: a constant level is not kept as it is)."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * 300 * t) * level).astype(np.int16).tobytes()


@pytest.mark.parametrize("format", ["opus", "flac"])
def test_a_line_recording_writes_a_decodable_file_of_the_call(tmp_path: Path, format: Any) -> None:
    clock = _Clock()
    path = tmp_path / f"call.{'ogg' if format == 'opus' else 'flac'}"
    results: list[Any] = []
    recording = LineRecording(path, format=format, clock=clock, on_done=results.append)
    voice = _voice(8000, 1.0)
    chunks = [voice[i : i + 2 * CHUNK] for i in range(0, len(voice), 2 * CHUNK)]
    # The caller talks for the first second, then is silent; at 1.5 s the bot answers with a
    # second of speech (sent in half a second); Twilio is told to clear at 2.0 s; the line
    # closes at 3.0 s.
    events: list[tuple[float, str, bytes]] = [
        ((i + 1) * 0.04, "heard", chunks[i] if i < len(chunks) else _pcm(0)) for i in range(75)
    ]
    events += [(1.5 + j * 0.02, "sent", chunk) for j, chunk in enumerate(chunks)]
    events.append((2.0, "cleared", b""))
    for at, kind, pcm in sorted(events, key=lambda event: event[0]):
        clock.now = 100.0 + at
        if kind == "cleared":
            recording.cleared()
        else:
            getattr(recording, kind)(pcm, RATE)
    clock.now = 103.0
    recording.close()
    result = recording.wait(10)

    assert result is not None and results == [result]
    assert result.error is None and result.dropped_seconds == 0
    assert result.seconds == pytest.approx(3.0, abs=0.01)
    assert result.size_bytes == path.stat().st_size > 0
    audio, rate = soundfile.read(path, dtype="int16")
    assert rate == RATE and len(audio) / rate == pytest.approx(3.0, abs=0.01)
    assert _rms(audio, 0.1, 0.9) > 3000  # the caller
    assert _rms(audio, 1.1, 1.4) < 100
    assert _rms(audio, 1.6, 1.95) > 3000  # the bot, as heard
    assert _rms(audio, 2.05, 3.0) < 100  # cleared: the rest of its answer was never heard


def test_a_slow_disk_drops_audio_and_never_makes_the_line_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = threading.Event()

    class SlowDisk(soundfile.SoundFile):
        def write(self, data: Any) -> None:
            disk.wait(10)
            super().write(data)

    monkeypatch.setattr(recording_module.soundfile, "SoundFile", SlowDisk)
    clock = _Clock()
    recording = LineRecording(tmp_path / "call.ogg", clock=clock, max_queued=50)
    slowest = 0.0
    for i in range(200):  # 8 s of the caller's audio while the disk is stuck
        clock.now += 0.04
        started = time.perf_counter()
        recording.heard(_pcm(CALLER_LEVEL), RATE)
        slowest = max(slowest, time.perf_counter() - started)
        del i
    assert slowest < 0.01
    assert recording.dropped_chunks > 0
    disk.set()
    recording.close()
    result = recording.wait(10)
    assert result is not None and result.error is None
    assert result.dropped_seconds == pytest.approx(recording.dropped_chunks * 0.04)
    assert result.seconds == pytest.approx(8.0, abs=0.05)


def test_a_recording_that_cannot_be_written_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the folder should be")
    recording = LineRecording(tmp_path / "taken" / "call.ogg")
    recording.heard(_pcm(CALLER_LEVEL), RATE)  # harmless once it has failed
    recording.close()
    result = recording.wait(10)
    assert result is not None and result.error and result.size_bytes == 0


class _Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def heard(self, pcm: bytes, sample_rate: int) -> None:
        self.events.append(("heard", len(pcm)))

    def sent(self, pcm: bytes, sample_rate: int) -> None:
        self.events.append(("sent", len(pcm)))

    def cleared(self) -> None:
        self.events.append(("cleared", 0))


async def test_the_serializer_tells_the_recording_what_crosses_the_wire() -> None:
    listener = _Heard()
    serializer = SafeTwilioSerializer("MZ" + "0" * 32, "CA" + "0" * 32, listener=listener)
    unused: Any = None
    await serializer.setup(
        FrameProcessorSetup(
            clock=unused, task_manager=unused, pipeline_worker=unused, audio_in_sample_rate=8000
        )
    )
    media = json.dumps(
        {
            "event": "media",
            "streamSid": "MZ",
            "media": {"payload": base64.b64encode(b"\xff" * 160).decode()},
        }
    )
    await serializer.deserialize(media)
    await serializer.deserialize(media)  # 40 ms: handed on, and heard
    out = await serializer.serialize(OutputAudioRawFrame(_pcm(BOT_LEVEL), RATE, 1))
    assert out is not None and json.loads(out)["event"] == "media"
    clear = await serializer.serialize(InterruptionFrame())
    assert clear is not None and json.loads(clear)["event"] == "clear"
    assert listener.events == [("heard", 640), ("sent", 640), ("cleared", 0)]


def test_the_mix_reads_back_from_an_ogg_opus_file_in_memory_too() -> None:
    """Whatever serves the file may hand it to a player as bytes: it decodes from a buffer."""
    buffer = io.BytesIO()
    with soundfile.SoundFile(
        buffer, "w", samplerate=RATE, channels=1, format="OGG", subtype="OPUS"
    ) as out:
        out.write(np.frombuffer(_voice(8000, 0.5), np.int16))
    buffer.seek(0)
    audio, rate = soundfile.read(buffer, dtype="int16")
    assert rate == RATE and len(audio) == _at(0.5)
