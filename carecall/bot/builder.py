"""How one call is assembled: its line (transport), our processors and the services → a worker.

A call's line is the only part that differs between a phone call and a talk in the browser:
`twilio_line` (the Twilio media websocket, μ-law 8 kHz, playback marks) or `browser_line`
(pipecat's small WebRTC transport: the browser's microphone at 16 kHz, the bot's audio at 24 kHz;
no marks: what the browser was sent is what the person heard). Everything else is shared:

    line's transport.input
    → VoicemailDrop          (an answering machine took the call: leave one message, end)
    → ServiceErrorFallback   (a service failed, or nothing was said by the reply deadline:
                               say a short line, keep going)
    → CallTimeLimit          (wrap up, then say goodbye at the maximum length)
    → STT (Whisper)
    → LineScreen             (phone calls: the first words tell a machine's greeting or a call
                               screener from the person; only the person's words go on)
    → RedFlagWatcher         (urgent signs in the caller's words: the alert, the care advice)
    → extensions after_stt   (`processors.extensions`: processors of other packages, EXTENSIONS)
    → user context aggregator (Silero VAD, batched across calls; `pipeline.turns`: the end of
                               the turn adapts to the words, the reply is prepared before it,
                               backchannels don't interrupt the bot, other speech does)
    → IdlePrompts            (a silent caller: "Take your time.", "Are you still there?",
                               then a polite goodbye)
    → AudioStop              (the caller's audio goes no further)
    → extensions before_llm
    → ReplyGate              (not the person: nothing the line hears starts a reply; keep it
                               the last processor before the model, after any that start replies)
    → LLM (GPT-4o, end_call and opt_out tools), or without one GuidedDialogue (the guided
                               check-in)
    → TTS
    → HoldCue                (the answer is slow: a short "Mm-hmm." from memory, past the TTS)
    → extensions after_tts
    → the line's own processors (Twilio: PlaybackMarks, a mark after each sentence: what the
                               caller really heard)
    → transport.output       (paced audio; Twilio `clear` on barge-in)
    → AudioStop              (nor does the bot's, once sent)
    → assistant context aggregator
    observer: CallRecorder → RecordWriter (database + event bus, off the real-time path);
              raw audio is kept away from observers (`observe_without_audio`)
    recording (phone calls of people who agreed to it, `calls.recordings`): the line's
              serializer tells `telephony.recording.LineRecording` what crosses the wire,
              both ways; a thread of its own mixes it as it was heard and writes the file

Every line the call says is in the person's ``language`` (`bot.prompts.call_lines`, the guided
check-in's `bot.checkin.script_for`, the care advice), and the line screen reads the words of
its machines and screeners too (`core.languages`); the services were built for it
(`bot.services.build_call_services`).

To add a processor to every call, write it in `processors/` and add one line to the list in
`build_call_worker`; or, from a package of its own, offer it as an extension (EXTENSIONS).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from carecall.bot import prompts
from carecall.bot.checkin import CheckinDialogue, script_for
from carecall.bot.services import CallServices
from carecall.bot.speech import CachedLines
from carecall.bot.tools import (
    CONNECT_CAREGIVER,
    END_CALL,
    OPT_OUT,
    connect_caregiver_handler,
    end_call_handler,
    opt_out_handler,
)
from carecall.bot.vad import BatchedSileroVAD
from carecall.core.languages import DEFAULT_LANGUAGE, catalogue, screening_words
from carecall.pipeline.events import CallFigure
from carecall.pipeline.observers import CallRecorder, RecordSink, observe_without_audio
from carecall.pipeline.turns import AdaptiveTurnStop, BackchannelTurnStart, TurnPauses
from carecall.processors.audio_stop import AudioStop
from carecall.processors.call_time_limit import CallTimeLimit
from carecall.processors.extensions import CallContext, Figure, processors_for
from carecall.processors.guided_dialogue import GuidedDialogue
from carecall.processors.hold_cue import CueAudio, HoldCue
from carecall.processors.idle_prompts import IdlePrompts
from carecall.processors.line_screen import LineScreen
from carecall.processors.playback_marks import PlaybackMarks
from carecall.processors.red_flags import RedFlagCheck, RedFlagWatcher
from carecall.processors.reply_gate import ReplyGate
from carecall.processors.service_fallback import ServiceErrorFallback
from carecall.processors.voicemail import VoicemailDrop
from carecall.settings import Settings
from carecall.telephony.serializer import SafeTwilioSerializer
from carecall.wellbeing.red_flags import RedFlag

TWILIO_SAMPLE_RATE = 8000
BROWSER_IN_SAMPLE_RATE = 16_000
"""The browser's microphone, as pipecat resamples it from WebRTC's 48 kHz: what Silero and
Whisper take as they are."""
BROWSER_OUT_SAMPLE_RATE = 24_000
HOLD_CUE_MIN_AFTER_TURN = 1.0
"""The hold cue never comes sooner than this after the end of the turn: about what an answer
takes at best, so a turn that ended late still gets its answer without an "Mm-hmm." first."""


@dataclass(frozen=True)
class MediaStream:
    """Identifies one Twilio media stream, from its `start` message."""

    call_id: int
    call_sid: str
    stream_sid: str


@dataclass
class CallLine:
    """The transport-specific part of a call: how the person's audio comes in and the bot's goes
    out, at which rates, and any processors of its own just before the output."""

    transport: BaseTransport
    sample_rate_in: int
    sample_rate_out: int
    before_output: list[FrameProcessor]

    @property
    def holds_audio(self) -> bool:
        """Whether the bot's audio can be held on the line while the caller speaks over it, and
        given back (`telephony.playout`)."""
        return False


@dataclass
class TwilioLine(CallLine):
    serializer: SafeTwilioSerializer

    @property
    def caller_hung_up(self) -> bool:
        return self.serializer.stopped

    @property
    def holds_audio(self) -> bool:
        return True


def twilio_line(websocket: WebSocket, stream: MediaStream, settings: Settings) -> TwilioLine:
    """A phone call's line. Its serializer is where the audio crosses the wire, both ways: a
    recording listens there (`serializer.listener`, `telephony.recording`), and the bot's audio
    can be held there while the caller speaks over it (`telephony.playout`)."""
    serializer = SafeTwilioSerializer(stream.stream_sid, stream.call_sid, send=websocket.send_text)
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
    return TwilioLine(
        transport,
        TWILIO_SAMPLE_RATE,
        TWILIO_SAMPLE_RATE,
        [PlaybackMarks(stream.stream_sid)],
        serializer,
    )


def browser_line(connection: SmallWebRTCConnection) -> CallLine:
    """The browser's microphone and speaker over a WebRTC peer connection (its offer answered)."""
    transport = SmallWebRTCTransport(
        webrtc_connection=connection,
        params=TransportParams(audio_in_enabled=True, audio_out_enabled=True),
    )
    return CallLine(transport, BROWSER_IN_SAMPLE_RATE, BROWSER_OUT_SAMPLE_RATE, [])


@dataclass(frozen=True)
class CallCare:
    """What a call does when the caller says something urgent (`processors.red_flags`)."""

    on_red_flag: Callable[[RedFlag], None]
    """Told at once, on the real-time path: must only start work (alert, texts) elsewhere."""
    check: RedFlagCheck | None = None
    """The model's second opinion on lines the rules pass over (only with a model)."""
    connect_to: str | None = None
    """Whom the bot may offer to put the call through to ("your daughter Susan")."""
    on_connect: Callable[[], Awaitable[bool]] | None = None
    """Puts the call through (the `connect_caregiver` tool); None: no offer is made."""


@dataclass(frozen=True)
class LineScreening:
    """What a phone call does when something other than the person answers
    (`processors.line_screen`)."""

    screener_answer: str
    """The one sentence said to a call-screening assistant."""
    on_machine: Callable[[], Awaitable[object]]
    """An answering machine was heard and Twilio's verdict never came: leave the message."""


@dataclass
class BuiltCall:
    worker: PipelineWorker
    line: CallLine
    recorder: CallRecorder
    greeting: list[str]
    voicemail: VoicemailDrop
    """Leaves a message and ends the call when an answering machine took it."""
    turn_stop: AdaptiveTurnStop
    """When the caller's turns ended, and what the call showed of their pauses."""
    checkin: CheckinDialogue | None = None
    """The guided check-in, when there is no model: its `answers` are the caller's answers."""
    idle: IdlePrompts | None = None
    """What fills the caller's silences (`IdlePrompts.stay_with`: a hand-over under way)."""

    @property
    def transport(self) -> BaseTransport:
        return self.line.transport


def build_call_worker(
    line: CallLine,
    *,
    call_id: int,
    settings: Settings,
    services: CallServices,
    sink: RecordSink,
    on_bot_ends_call: Callable[[str], None],
    on_opt_out: Callable[[str], None] | None = None,
    greeting: list[str] | None = None,
    care: CallCare | None = None,
    patience: float = 1.0,
    screening: LineScreening | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> BuiltCall:
    """One call's worker. ``on_bot_ends_call(reason)`` is told when the bot ends the call and
    ``on_opt_out(reason)`` (default: ``on_bot_ends_call``) when it ends it because the person
    asked never to be called again; ``greeting`` is the opening (default: the generic one);
    ``patience`` stretches every end-of-turn pause (the person's pause profile);
    ``screening``: what answered is screened (phone calls); ``language``: what the call's lines
    are said in (a code of `core.languages`; the services must have been built for it)."""
    transport = line.transport
    language = catalogue(language).code
    lines = prompts.call_lines(language)
    on_opt_out = on_opt_out or on_bot_ends_call
    checkin: CheckinDialogue | None = None
    dialogue: FrameProcessor
    if services.llm is None:
        # No language model: a deterministic walk through the check-in plan answers instead.
        checkin = CheckinDialogue(script_for(language))
        dialogue = GuidedDialogue(checkin, on_end=on_bot_ends_call, on_opt_out=on_opt_out)
        context = LLMContext()
    else:
        services.llm.register_function(
            "end_call", end_call_handler(on_bot_ends_call, default_goodbye=lines.goodbye)
        )
        services.llm.register_function(
            "opt_out", opt_out_handler(on_opt_out, goodbye=lines.opt_out_goodbye)
        )
        tools = [END_CALL, OPT_OUT]
        if care is not None and care.on_connect is not None and care.connect_to:
            services.llm.register_function(
                "connect_caregiver", connect_caregiver_handler(care.on_connect)
            )
            tools.append(CONNECT_CAREGIVER)
        dialogue = services.llm
        context = LLMContext(tools=ToolsSchema(standard_tools=tools))
    # Older callers pause mid-sentence, and nobody likes waiting for an answer: the turn ends
    # after a pause that depends on the words so far, and with a model the answer is prepared
    # during it (see README, "Turn-taking for older callers").
    turn_stop = AdaptiveTurnStop(
        pauses=TurnPauses(
            complete=settings.turn_pause_complete_seconds,
            unsure=settings.user_turn_pause_seconds,
            incomplete=settings.turn_pause_incomplete_seconds,
        ),
        patience=patience,
        preemptive=settings.preemptive_replies and services.llm is not None,
    )
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=BatchedSileroVAD(
                sample_rate=line.sample_rate_in,
                params=VADParams(
                    start_secs=settings.vad_start_seconds, stop_secs=settings.vad_stop_seconds
                ),
                batcher=services.vad,
            ),
            user_turn_strategies=UserTurnStrategies(
                start=[
                    BackchannelTurnStart(
                        interrupt_after=settings.interrupt_after_seconds,
                        hold_audio=line.holds_audio,
                        stop_window=settings.vad_stop_seconds,
                    )
                ],
                stop=[turn_stop],
            ),
        ),
    )
    if greeting is None:
        greeting = prompts.greeting(
            bot_name=settings.bot_name,
            organization_name=settings.organization_name,
            language=language,
        )
    gate = ReplyGate()
    voicemail = VoicemailDrop(gate)
    screen = _line_screen(screening, voicemail, greeting, language)
    watcher = _red_flag_watcher(
        care, checkin, with_model=services.llm is not None, language=language
    )

    def report(name: str, value: Figure) -> None:
        sink.submit(CallFigure(call_id, name, value))

    extended = processors_for(services.extensions, CallContext(call_id, settings, report))
    idle = IdlePrompts(
        after=settings.idle_prompt_seconds,
        lines=lines.idle,
        goodbye=lines.idle_goodbye,
        on_end=on_bot_ends_call,
    )
    pipeline = Pipeline(
        [
            transport.input(),
            voicemail,
            ServiceErrorFallback(lines.fallback, reply_deadline=settings.reply_deadline_seconds),
            CallTimeLimit(
                wrap_up_after=settings.max_call_seconds - settings.wrap_up_seconds,
                end_after=settings.max_call_seconds,
                wrap_up_note=prompts.WRAP_UP_NOTE,
                goodbye=lines.time_up_goodbye,
                on_time_up=lambda: on_bot_ends_call("maximum call length"),
            ),
            services.stt,
            *screen,
            *watcher,
            *extended.after_stt,
            user_aggregator,
            idle,
            AudioStop(InputAudioRawFrame, name="caller-audio-stop"),
            *extended.before_llm,
            gate,
            dialogue,
            services.tts,
            HoldCue(
                _cue_audio(services.tts, lines.hold_cue),
                after=settings.hold_cue_seconds,
                min_after_turn=HOLD_CUE_MIN_AFTER_TURN,
            ),
            *extended.after_tts,
            *line.before_output,
            transport.output(),
            AudioStop(OutputAudioRawFrame, name="bot-audio-stop"),
            assistant_aggregator,
        ]
    )
    recorder = CallRecorder(
        call_id,
        sink,
        spoken_by=transport.output(),
        heard_by=screen[0] if screen else None,
        turn_stop=turn_stop,
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=line.sample_rate_in,
            audio_out_sample_rate=line.sample_rate_out,
        ),
        enable_rtvi=False,
        enable_turn_tracking=False,
        observers=[recorder],
        name=f"call-{call_id}",
    )
    observe_without_audio(worker)
    return BuiltCall(worker, line, recorder, greeting, voicemail, turn_stop, checkin, idle)


def _line_screen(
    screening: LineScreening | None,
    voicemail: VoicemailDrop,
    greeting: list[str],
    language: str,
) -> list[FrameProcessor]:
    if screening is None:
        return []
    machine_words, screener_words = screening_words(language)
    return [
        LineScreen(
            voicemail,
            screener_answer=screening.screener_answer,
            greeting=greeting,
            on_machine=screening.on_machine,
            machine_words=machine_words,
            screener_words=screener_words,
        )
    ]


def _red_flag_watcher(
    care: CallCare | None, checkin: CheckinDialogue | None, *, with_model: bool, language: str
) -> list[FrameProcessor]:
    """The red-flag watcher, between the STT and the user aggregator so its care note reaches
    the reply to the very line that raised it. Without a model the guided check-in's next
    reply is the advice instead (in the call's language), each time a red flag is heard (the
    alert is raised once)."""
    if care is None:
        return []
    on_heard = None
    if checkin is not None:
        guided = checkin

        def on_heard(flag: RedFlag) -> None:
            guided.concern(flag.advice_in(language))

    offer = care.connect_to if with_model and care.on_connect is not None else None
    return [
        RedFlagWatcher(
            on_red_flag=care.on_red_flag,
            on_heard=on_heard,
            llm_check=care.check if with_model else None,
            connect_to=offer,
            language=language,
        )
    ]


def _cue_audio(tts: FrameProcessor, cue: str) -> CueAudio:
    """The hold cue's audio (``cue``, in the call's language) in this call's voice, once the
    process has made it."""
    if not isinstance(tts, CachedLines):
        return lambda: None
    return lambda: tts.cached_audio(cue)
