"""`CallRecorder`: turns the frames of one call into turn records and call notes.

It watches frames as they are pushed (it never blocks or changes them) and hands finished
records to a sink whose `submit` only enqueues; the database is written by another task.

What it records:
- a user turn per caller turn: the final transcripts between the turn's start and the bot's
  answer. With ``heard_by`` (`processors.line_screen`) only the transcripts it passes on count:
  an answering machine's greeting or a call screener's question is not the person's words, and
  a `NotThePersonFrame` drops the turn open so far (a machine was known only after its
  greeting was transcribed);
- an assistant turn per bot answer: the sentences the output transport sent, whether the caller
  interrupted it, and the latency from the end of the caller's speech to the bot's first audio
  (logged at INFO with the part after the end-of-turn decision: the services and the pipeline).
  When the caller interrupts, only the sentences the caller has heard are kept: the ones whose
  playback mark (`processors.playback_marks`) Twilio echoed before the interruption. Without
  mark echoes (a transport that doesn't send them) the sentences sent are kept;
- a note for every service error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from loguru import logger
from pipecat.frames.frames import (
    AudioRawFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ErrorFrame,
    InputTransportMessageFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.pipeline.worker import PipelineWorker
from pipecat.pipeline.worker_observer import WorkerObserver
from pipecat.processors.frame_processor import FrameProcessor

from carecall.persistence.models import TurnRole
from carecall.pipeline.events import CallNote, CallRecord, TurnRecord
from carecall.pipeline.turns import AdaptiveTurnStop, CallerBackchannelFrame
from carecall.processors.idle_prompts import IdlePromptFrame
from carecall.processors.playback_marks import mark_name
from carecall.processors.reply_gate import NotThePersonFrame


class RecordSink(Protocol):
    def submit(self, item: CallRecord) -> None:
        """Take a record without waiting (the caller is the real-time path)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _OpenTurn:
    role: TurnRole
    started_at: datetime
    parts: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)  # the playback mark of each part
    ended_at: datetime | None = None
    interrupted: bool = False
    latency_ms: int | None = None
    backchannels: list[str] = field(default_factory=list)


class CallRecorder(BaseObserver):
    """Observer for one call's pipeline. `spoken_by` is the output transport: text counts as
    spoken only once that processor has sent its audio. `heard_by`: a transcript counts as the
    person's only once that processor has passed it on (None: as soon as it is made)."""

    def __init__(
        self,
        call_id: int,
        sink: RecordSink,
        *,
        spoken_by: FrameProcessor,
        heard_by: FrameProcessor | None = None,
        turn_stop: AdaptiveTurnStop | None = None,
    ) -> None:
        super().__init__()
        self._call_id = call_id
        self._sink = sink
        self._output = spoken_by
        self._heard_by = heard_by
        self._turn_stop = turn_stop
        self._log = logger.bind(call_id=call_id)
        self._sequence = 0
        self._user: _OpenTurn | None = None
        self._assistant: _OpenTurn | None = None
        self._bot_speaking = False
        # Monotonic time the caller really stopped talking (VAD decision minus its silence window).
        self._speech_ended_at: float | None = None
        self._heard_marks: set[str] = set()
        self._marks_echoed = False

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if isinstance(frame, TTSTextFrame):
            if data.source is self._output and self._assistant is not None:
                self._assistant.parts.append(frame.text)
                self._assistant.marks.append(mark_name(frame))
            return
        if isinstance(frame, TranscriptionFrame) and self._heard_by is not None:
            if data.source is self._heard_by:
                self._on_transcript(frame.text)
            return
        if not data.first_push:
            return
        if isinstance(frame, UserStartedSpeakingFrame):
            self._on_user_started()
        elif isinstance(frame, TranscriptionFrame):
            self._on_transcript(frame.text)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speech_ended_at = time.monotonic() - (frame.stop_secs or 0.0)
        elif isinstance(frame, NotThePersonFrame):
            self._user = None
        elif isinstance(frame, UserStoppedSpeakingFrame):
            if self._user is not None:
                self._user.ended_at = _now()
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._on_bot_started()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            if self._assistant is not None:
                self._assistant.ended_at = _now()
        elif isinstance(frame, InputTransportMessageFrame):
            if isinstance(frame.message, dict) and frame.message.get("event") == "mark":
                self._marks_echoed = True
                self._heard_marks.add(str(frame.message.get("name")))
        elif isinstance(frame, IdlePromptFrame):
            self._close_assistant()  # a prompt after a silence is a turn of its own
        elif isinstance(frame, CallerBackchannelFrame):
            self._on_backchannel(frame.text)
        elif isinstance(frame, ErrorFrame):
            self._sink.submit(CallNote(self._call_id, error=frame.error))

    def finish(self) -> None:
        """The call is over: write whatever is still open."""
        self._close_user()
        self._close_assistant()

    # --- turn bookkeeping -------------------------------------------------------------------

    def _on_user_started(self) -> None:
        if self._assistant is not None and (self._bot_speaking or not self._all_heard()):
            # Audio is sent ahead of playback: the caller may still be hearing an answer
            # that has been sent completely. Unheard marks mean it is cut off now.
            self._assistant.interrupted = True
        self._close_assistant()
        if self._user is None:
            self._user = _OpenTurn(TurnRole.USER, _now())
        else:
            # The bot has not answered since (its answer closes the user turn): the caller
            # resumed after a pause, or the last stretch was noise. Same turn.
            self._user.ended_at = None

    def _all_heard(self) -> bool:
        """Whether the caller has heard all of the open answer (as far as marks tell)."""
        assert self._assistant is not None
        return not self._marks_echoed or self._heard_marks.issuperset(self._assistant.marks)

    def _on_transcript(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self._user is None:
            self._user = _OpenTurn(TurnRole.USER, _now())
        self._user.parts.append(text)

    def _on_backchannel(self, text: str) -> None:
        """The caller's last words were a backchannel: they belong to the answer they
        overlapped, not to the caller's next turn."""
        if self._user is not None and self._user.parts and self._user.parts[-1] == text:
            self._user.parts.pop()
            if not self._user.parts:
                self._user = None
        if self._assistant is not None:
            self._assistant.backchannels.append(text)
        else:
            self._log.info("A backchannel came after the answer it overlapped was recorded")

    def _on_bot_started(self) -> None:
        self._bot_speaking = True
        if self._assistant is not None:
            return  # a pause inside one answer (e.g. between two sentences)
        self._close_user()
        turn = _OpenTurn(TurnRole.ASSISTANT, _now())
        if self._speech_ended_at is not None:
            now = time.monotonic()
            turn.latency_ms = round((now - self._speech_ended_at) * 1000)
            self._speech_ended_at = None
            decided_at = self._turn_stop.decided_at if self._turn_stop else None
            if decided_at is not None:
                # decided_at: the benchmark lines this up with when the caller heard the answer.
                self._log.bind(decided_at=f"{decided_at:.4f}").info(
                    f"Answered {turn.latency_ms} ms after the caller stopped talking, "
                    f"{(now - decided_at) * 1000:.0f} ms after the end of the turn"
                )
        self._assistant = turn

    def _close_user(self) -> None:
        turn, self._user = self._user, None
        if turn is not None and turn.parts:
            self._emit(turn, " ".join(turn.parts))

    def _close_assistant(self) -> None:
        turn, self._assistant = self._assistant, None
        self._bot_speaking = False
        if turn is None or not (turn.parts or turn.interrupted):
            return
        parts = turn.parts
        if turn.interrupted and self._marks_echoed:
            parts = [
                p
                for p, mark in zip(turn.parts, turn.marks, strict=True)
                if mark in self._heard_marks
            ]
        self._heard_marks.difference_update(turn.marks)
        self._emit(turn, _join_spoken(parts))

    def _emit(self, turn: _OpenTurn, text: str) -> None:
        self._sequence += 1
        ended_at = turn.ended_at or _now()
        self._sink.submit(
            TurnRecord(
                call_id=self._call_id,
                sequence=self._sequence,
                role=turn.role,
                text=text,
                started_at=turn.started_at,
                ended_at=max(ended_at, turn.started_at),
                interrupted=turn.interrupted,
                latency_ms=turn.latency_ms,
                backchannels=" / ".join(turn.backchannels) or None,
            )
        )


def _join_spoken(parts: list[str]) -> str:
    """TTS text frames are sentences or words; join them the way they were spoken."""
    return " ".join(p.strip() for p in parts if p.strip())


class AudioBlindWorkerObserver(WorkerObserver):
    """pipecat's proxy to a worker's observers, without the traffic no observer of ours reads.

    pipecat tells every observer about every frame each processor processes and every frame it
    pushes, through a queue and a task per observer: for one call that is ~20 queued events per
    20 ms of caller audio, all for raw audio frames (and "processed" events) that neither the
    `CallRecorder` nor pipecat's idle monitor looks at. Dropping them here, before the queues,
    is a large part of a call's CPU (see bench/README.md).
    """

    async def on_process_frame(self, data: FrameProcessed) -> None:
        return  # no observer in a carecall worker implements on_process_frame

    async def on_push_frame(self, data: FramePushed) -> None:
        if isinstance(data.frame, AudioRawFrame):
            return
        await super().on_push_frame(data)


def observe_without_audio(worker: PipelineWorker) -> None:
    """Give ``worker`` an `AudioBlindWorkerObserver` for the observers it was built with.

    pipecat 1.14 builds its `WorkerObserver` in `PipelineWorker.__init__` and offers no way to
    choose another, so the private `_observer` is swapped before the worker starts, keeping the
    observers it was given (`WorkerObserver._observers`: pinned pipecat;
    tests/test_upstream_names.py checks that the swapped one is the one the worker uses).
    """
    current = worker._observer
    worker._observer = AudioBlindWorkerObserver(observers=list(current._observers))
