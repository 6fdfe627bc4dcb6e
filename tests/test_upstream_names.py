"""The private names of pipecat carecall relies on, where pipecat offers no public way (each
place says why). pipecat is pinned (`pipecat-ai==1.14.*`); when an upgrade moves one of these
names, a test here fails and says which place to revisit. (carecall reaches no private name of
openai's.)"""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import pytest
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    TextFrame,
    TranscriptionFrame,
    UserAudioRawFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.tests.utils import run_test
from pipecat.workers.runner import WorkerRunner

from carecall.bot.services import ServiceClients, build_call_services
from carecall.pipeline.observers import observe_without_audio
from carecall.settings import Settings
from tests.fakes.openai_server import FakeOpenAI


class _Seen(BaseObserver):
    def __init__(self) -> None:
        super().__init__()
        self.pushed: list[type] = []
        self.text = asyncio.Event()

    async def on_push_frame(self, data: FramePushed) -> None:
        self.pushed.append(type(data.frame))
        if isinstance(data.frame, TextFrame):
            self.text.set()


class _Pass(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


async def test_worker_observer_the_observer_a_worker_uses_can_be_swapped() -> None:
    """`pipeline.observers.observe_without_audio`: `PipelineWorker._observer` and
    `WorkerObserver._observers`. The worker must use the one swapped in: raw audio never
    reaches the call's observers, everything else does."""
    seen = _Seen()
    worker = PipelineWorker(Pipeline([_Pass()]), observers=[seen], enable_rtvi=False)
    observe_without_audio(worker)
    runner = WorkerRunner(handle_sigint=False, force_gc=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        await worker.queue_frames(
            [
                InputAudioRawFrame(audio=bytes(320), sample_rate=8000, num_channels=1),
                TextFrame("hi"),
            ]
        )
        await asyncio.wait_for(seen.text.wait(), 10)
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, 10)
    finally:
        running.cancel()
    assert TextFrame in seen.pushed
    assert InputAudioRawFrame not in seen.pushed


@pytest.fixture
async def openai() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


def _wav(seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(bytes(int(seconds * 16_000) * 2))
    return buffer.getvalue()


async def test_whisper_requests_go_through_transcribe_and_client(
    openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> None:
    """`bot.services`: `BaseWhisperSTTService._transcribe` (the hook the retries wrap) and
    `_client` (given a time limit and no retries of its own). Through the public `run_stt`, a
    failed request is tried again by carecall's hook, not by the client."""
    settings = make_settings(openai_base_url=openai.base_url)
    clients = ServiceClients(settings)
    try:
        stt = build_call_services(settings, clients, system_prompt="").stt
        assert stt._client.max_retries == 0  # type: ignore[attr-defined]
        openai.expect_utterance("I feel fine")
        openai.outage("transcription", "error", status=429, requests=1)
        frames = [frame async for frame in stt.run_stt(_wav())]
    finally:
        await clients.aclose()
    assert [f.text for f in frames if isinstance(f, TranscriptionFrame)] == ["I feel fine"]


async def test_stt_service_keeps_the_speaker_in_user_id() -> None:
    """`bot.local_speech.LocalWhisperSTTService.run_stt` reads `STTService._user_id`."""
    stt = OpenAISTTService(api_key="not-used", base_url="http://127.0.0.1:9/v1")
    assert stt._user_id == ""
    frame = UserAudioRawFrame(
        user_id="caller-7", audio=bytes(320), sample_rate=16_000, num_channels=1
    )
    await run_test(stt, frames_to_send=[frame], expected_down_frames=None)
    assert stt._user_id == "caller-7"


class _Loud(VADAnalyzer):
    def num_frames_required(self) -> int:
        return 256

    def voice_confidence(self, buffer: bytes) -> float:
        return 1.0


def test_vad_analyzer_runs_its_state_machine_in_run_analyzer() -> None:
    """`bot.vad.BatchedSileroVAD.analyze_audio` runs `VADAnalyzer._run_analyzer` on the
    event loop (pipecat's `analyze_audio` hops to a thread for it)."""
    vad = _Loud(sample_rate=8000)
    vad.set_sample_rate(8000)
    loud = (b"\xff\x7f" * 256) * 40  # 1.3 s of full-scale windows
    assert vad._run_analyzer(loud) == VADState.SPEAKING


async def test_tts_service_text_aggregator_is_the_one_first_clauses_replace() -> None:
    """`bot.speech.speak_first_clauses_early`: `TTSService._text_aggregator` (pipecat 1.14 takes
    a mode, not an aggregator), and `SimpleTextAggregator._text`, the buffer its subclasses
    extend. The swapped-in aggregator must be the one the service feeds."""
    from pipecat.services.tts_service import TTSService

    from carecall.bot.speech import FirstClauseAggregator, speak_first_clauses_early

    class _Silent(TTSService):
        async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
            return
            yield

    service = _Silent(sample_rate=24_000)
    speak_first_clauses_early(service)
    aggregator = service._text_aggregator
    assert isinstance(aggregator, FirstClauseAggregator)
    pieces = [a.text async for a in aggregator.aggregate("I heard you say: fine")]
    assert pieces == ["I heard you say:"]
    assert aggregator._text.strip() == "fine"
