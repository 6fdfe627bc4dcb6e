"""How one phone call is assembled: transport, our processors and the services → a worker.

    Twilio media websocket (SafeTwilioSerializer: μ-law 8 kHz ⇄ PCM)
    → transport.input
    → ServiceErrorFallback   (a service failed: say a short line, keep going)
    → CallTimeLimit          (wrap up, then say goodbye at the maximum length)
    → STT (Whisper)
    → user context aggregator (Silero VAD, batched across calls + pause-tolerant end of turn;
                               barge-in)
    → AudioStop              (the caller's audio goes no further)
    → LLM (GPT-4o, end_call tool), or without one GuidedDialogue (the guided check-in)
    → TTS
    → PlaybackMarks          (a Twilio mark after each sentence: what the caller really heard)
    → transport.output       (paced audio; `clear` on barge-in)
    → AudioStop              (nor does the bot's, once sent)
    → assistant context aggregator
    observer: CallRecorder → RecordWriter (database + event bus, off the real-time path);
              raw audio is kept away from observers (`observe_without_audio`)

To add a processor to every call, write it in `processors/` and add one line to the list in
`build_call_worker`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import WebSocket
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from bot import prompts
from bot.checkin import DEFAULT_PLAN, CheckinDialogue
from bot.services import CallServices
from bot.tools import END_CALL, end_call_handler
from pipeline.observers import CallRecorder, RecordSink, observe_without_audio
from pipeline.turns import PauseTolerantTurnStop
from pipeline.vad import BatchedSileroVAD
from processors.audio_stop import AudioStop
from processors.call_time_limit import CallTimeLimit
from processors.guided_dialogue import GuidedDialogue
from processors.playback_marks import PlaybackMarks
from processors.service_fallback import ServiceErrorFallback
from settings import Settings
from telephony.serializer import SafeTwilioSerializer

TWILIO_SAMPLE_RATE = 8000


@dataclass(frozen=True)
class MediaStream:
    """Identifies one Twilio media stream, from its `start` message."""

    call_id: int
    call_sid: str
    stream_sid: str


@dataclass
class BuiltCall:
    worker: PipelineWorker
    transport: FastAPIWebsocketTransport
    recorder: CallRecorder
    serializer: SafeTwilioSerializer
    greeting: list[str]
    checkin: CheckinDialogue | None = None
    """The guided check-in, when there is no model: its `answers` are the caller's answers."""


def build_call_worker(
    websocket: WebSocket,
    stream: MediaStream,
    *,
    settings: Settings,
    services: CallServices,
    sink: RecordSink,
    on_bot_ends_call: Callable[[str], None],
) -> BuiltCall:
    serializer = SafeTwilioSerializer(stream.stream_sid, stream.call_sid)
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
            allowed_origins=[],  # Twilio sends no Origin; the upgrade is checked by signature
            session_timeout=settings.max_call_seconds + 60,
        ),
    )

    checkin: CheckinDialogue | None = None
    dialogue: FrameProcessor
    if services.llm is None:
        # No language model: a deterministic walk through the check-in plan answers instead.
        checkin = CheckinDialogue(DEFAULT_PLAN)
        dialogue = GuidedDialogue(checkin, on_end=on_bot_ends_call)
        context = LLMContext()
    else:
        services.llm.register_function("end_call", end_call_handler(on_bot_ends_call))
        dialogue = services.llm
        context = LLMContext(tools=ToolsSchema(standard_tools=[END_CALL]))
    # Older callers pause mid-sentence: a turn ends only after VAD silence plus a further
    # pause, and only once there is a transcript (see README, "Turn-taking").
    turn_stop = PauseTolerantTurnStop(pause_seconds=settings.user_turn_pause_seconds)
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=BatchedSileroVAD(
                sample_rate=TWILIO_SAMPLE_RATE,
                params=VADParams(stop_secs=settings.vad_stop_seconds),
                batcher=services.vad,
            ),
            user_turn_strategies=UserTurnStrategies(stop=[turn_stop]),
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            ServiceErrorFallback(prompts.FALLBACK_LINE),
            CallTimeLimit(
                wrap_up_after=settings.max_call_seconds - settings.wrap_up_seconds,
                end_after=settings.max_call_seconds,
                wrap_up_note=prompts.WRAP_UP_NOTE,
                goodbye=prompts.TIME_UP_GOODBYE,
                on_time_up=lambda: on_bot_ends_call("maximum call length"),
            ),
            services.stt,
            user_aggregator,
            AudioStop(InputAudioRawFrame, name="caller-audio-stop"),
            dialogue,
            services.tts,
            PlaybackMarks(stream.stream_sid),
            transport.output(),
            AudioStop(OutputAudioRawFrame, name="bot-audio-stop"),
            assistant_aggregator,
        ]
    )
    recorder = CallRecorder(stream.call_id, sink, spoken_by=transport.output(), turn_stop=turn_stop)
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=TWILIO_SAMPLE_RATE,
            audio_out_sample_rate=TWILIO_SAMPLE_RATE,
        ),
        enable_rtvi=False,
        enable_turn_tracking=False,
        observers=[recorder],
        name=f"call-{stream.call_id}",
    )
    observe_without_audio(worker)
    greeting = prompts.greeting(
        bot_name=settings.bot_name, organization_name=settings.organization_name
    )
    return BuiltCall(worker, transport, recorder, serializer, greeting, checkin)
