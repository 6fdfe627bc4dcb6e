"""When the caller's turn starts and ends: an attentive listener's rules as pipecat turn strategies.

`AdaptiveTurnStop` ends the caller's turn after the VAD's silence plus a pause that depends on
what they said (`pipeline.turn_words.turn_ending`): short when the words are a finished
answer ("Not too bad."), long when they stop mid-clause ("and", "because", "um", "I was going
to"), in between when it can't tell. The pauses are the caller's silence after the VAD's own
window; each is stretched by the person's `patience` (a pause profile learnt from their calls).
It decides only once the transcript of the caller's last stretch of speech is in; when none
comes within ``transcript_timeout`` (a cough, noise) the turn ends with nothing to answer.

With ``preemptive`` on it also starts the reply early: as soon as a transcript arrives that
doesn't read as unfinished, the reply to the words so far is generated speculatively
(pipecat's speculation: the model answers a provisional copy of the context, and its
response is held by the model service's gate). When the turn ends on those same words the
held response is released at once and the model isn't asked again; if the caller speaks again
first, the speculation is withdrawn (nothing of it is heard, stored, or kept in the context)
and the merged words are answered later. A reply that wants a tool (ending the call, say) is
withdrawn by the model service itself, and asked again at the end of the turn. `speculations`
counts what happened to each.

Each call also tells what it learnt about the person's pauses (`resumed_pauses`, `cut_ins`);
`next_patience` turns that into their pause profile for the next call, a factor on every pause.

`BackchannelTurnStart` decides when the caller's speech starts a turn (and so interrupts the
bot). While the bot is silent, at once (the VAD heard speech). While it talks, speech that
lasts ``interrupt_after`` seconds interrupts at once (seconds of voice from its first sound, as
the VAD's windows tell it, counted over the caller's stretches of voice until it is decided
what they were: "Sorry, … what was that?" with a breath at the comma counts as one). Shorter
speech interrupts once its transcript is in, unless it is a backchannel ("mm-hm", "yes",
"oh", a laugh) and the bot is still talking: that is dropped from the caller's words, and a
`CallerBackchannelFrame` tells the recorder, which keeps it with the answer it overlapped. (A
"yes" whose words come after the bot has finished answers its last question: a turn.)

With ``hold_audio`` (a line that can, `telephony.playout`: the phone) the bot also falls
silent at the first sound of speech over it, before that is decided: its audio is held
(`BotAudioHold`). A backchannel gives it back, and the bot takes its sentence up again; an
interruption drops it. A hold nothing decides within `HOLD_UNDECIDED_SECONDS` of the voice's
end (a cough whose transcript is empty) is given back too.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EagerEndOfTurnCancelFrame,
    Frame,
    SystemFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult, UserTurnSpeculation
from pipecat.turns.user_start.base_user_turn_start_strategy import BaseUserTurnStartStrategy
from pipecat.turns.user_stop.base_user_turn_stop_strategy import BaseUserTurnStopStrategy
from pipecat.utils.asyncio.task_manager import BaseTaskManager

from carecall.pipeline.turn_words import TurnEnding, is_backchannel, turn_ending
from carecall.telephony.playout import BotAudioHold


@dataclass
class CallerBackchannelFrame(SystemFrame):
    """What the caller said while the bot talked that only kept it going ("Mm-hm.")."""

    text: str = ""


@dataclass(frozen=True)
class TurnPauses:
    """Seconds of silence, after the VAD's own window, before the caller's turn is over."""

    complete: float = 0.4
    unsure: float = 0.8
    incomplete: float = 2.5

    def after(self, ending: TurnEnding) -> float:
        if ending is TurnEnding.COMPLETE:
            return self.complete
        if ending is TurnEnding.INCOMPLETE:
            return self.incomplete
        return self.unsure


MAX_PATIENCE = 2.0
CUT_IN_WINDOW = 2.0
"""Seconds after the end of a turn within which the caller speaking over the answer means the
turn probably wasn't over."""


def next_patience(
    current: float,
    *,
    resumed_pauses: list[float],
    cut_ins: int,
    longest_wait: float,
) -> float:
    """A person's pause profile after one more call: 30 % of the way from ``current`` to what
    the call showed. A caller who resumed after a pause close to ``longest_wait`` (the longest
    silence carecall waits through, mid-clause) needs more; each time they spoke over an answer
    that came right after their turn (they hadn't finished) asks 15 % more; otherwise it drifts
    back towards 1.0. Between 1.0 and `MAX_PATIENCE`."""
    target = 1.0
    if resumed_pauses:
        target = max(target, (max(resumed_pauses) + 0.3) / longest_wait)
    if cut_ins:
        target = max(target, current * (1 + 0.15 * cut_ins))
    patience = current + 0.3 * (target - current)
    return round(min(MAX_PATIENCE, max(1.0, patience)), 3)


@dataclass
class SpeculationCounts:
    started: int = 0
    used: int = 0
    cancelled: int = 0


class AdaptiveTurnStop(BaseUserTurnStopStrategy):
    def __init__(
        self,
        *,
        pauses: TurnPauses,
        patience: float = 1.0,
        preemptive: bool = False,
        transcript_timeout: float = 2.5,
    ) -> None:
        super().__init__()
        self.pauses = pauses
        self.patience = patience
        """The person's factor on every pause (1.0: none learnt yet)."""
        self._preemptive = preemptive
        self._transcript_timeout = transcript_timeout
        self.decided_at: float | None = None
        """Monotonic time of the last end-of-turn decision."""
        self.speculations = SpeculationCounts()
        self.resumed_pauses: list[float] = []
        """Each silence (seconds) after which the caller went on with the same turn."""
        self.cut_ins = 0
        """Times the caller spoke over an answer that came right after their turn."""
        self._bot_speaking = False
        self._in_turn = False
        self._text = ""
        self._speaking = False
        self._stopped_at: float | None = None
        self._vad_stop = 0.0
        self._timer: asyncio.Task[None] | None = None
        self._speculation: UserTurnSpeculation | None = None

    # -- the turn's boundaries -----------------------------------------------------------------

    async def handle_user_turn_started(self) -> None:
        if (
            self._bot_speaking
            and self.decided_at is not None
            and time.monotonic() - self.decided_at < CUT_IN_WINDOW
        ):
            self.cut_ins += 1
        self._in_turn = True
        await self._clear(keep_speaking=True)

    async def handle_user_turn_stopped(self) -> None:
        self._in_turn = False
        await self._clear(keep_speaking=False)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._cancel_timer()

    async def _clear(self, *, keep_speaking: bool) -> None:
        self._text = ""
        self._stopped_at = None
        if not keep_speaking:
            self._speaking = False
        await self._cancel_timer()
        await self._withdraw()

    # -- frames ----------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            if self._in_turn and self._stopped_at is not None:
                silence = time.monotonic() - self._stopped_at + self._vad_stop - frame.start_secs
                self.resumed_pauses.append(round(silence, 2))
            self._speaking = True
            await self._cancel_timer()
            await self._withdraw()  # they go on: what was prepared answers too little
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
            self._stopped_at = time.monotonic()
            self._vad_stop = frame.stop_secs
            await self._schedule(self._transcript_timeout)
        elif isinstance(frame, TranscriptionFrame) and self._in_turn:
            await self._on_transcript(frame.text)
        elif isinstance(frame, EagerEndOfTurnCancelFrame) and self._speculation is not None:
            # The model service withdrew it (the reply wanted a tool, whose effects can't be
            # held back): the end of the turn must ask again.
            self._speculation = None
            self.speculations.cancelled += 1
        return ProcessFrameResult.CONTINUE

    async def _on_transcript(self, text: str) -> None:
        self._text = f"{self._text} {text.strip()}".strip()
        if self._speaking:
            return  # more is being said; the next stop decides
        if self._stopped_at is None:  # words without a VAD stop: count the silence from now
            self._stopped_at = time.monotonic()
        ending = turn_ending(self._text)
        pause = self.pauses.after(ending) * self.patience
        await self._schedule(self._stopped_at + pause - time.monotonic())
        if self._preemptive and ending is not TurnEnding.INCOMPLETE:
            await self._speculate()

    async def _schedule(self, delay: float) -> None:
        await self._cancel_timer()
        self._timer = self.task_manager.create_task(
            self._decide_after(max(0.0, delay)), f"{self}::decide"
        )

    async def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        await _cancel(self.task_manager, timer)

    async def _decide_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timer = None
        if self._speaking or not self._in_turn:
            return
        self.decided_at = time.monotonic()
        if not self._text:
            # No words came of it (a cough, line noise, words kept from the conversation):
            # the turn ends with nothing to answer, and quietly (no turn-end frame: nothing
            # waits for a reply to it); words that come late start a turn anew.
            await self.trigger_user_turn_stopped(enable_user_speaking_frames=False)
            return
        speculation, self._speculation = self._speculation, None
        if speculation is not None and speculation.text == self._text:
            self.speculations.used += 1
            await self.trigger_user_turn_finalized(confirms_speculation=True)
            return
        if speculation is not None:
            await self._cancelled()
        await self.trigger_user_turn_stopped()

    # -- preemptive replies ----------------------------------------------------------------------

    async def _speculate(self) -> None:
        if self._speculation is not None:
            if self._speculation.text == self._text:
                return
            await self._withdraw()
        self._speculation = UserTurnSpeculation(text=self._text)
        self.speculations.started += 1
        await self.trigger_user_turn_inference_triggered(speculation=self._speculation)

    async def _withdraw(self) -> None:
        if self._speculation is not None:
            self._speculation = None
            await self._cancelled()

    async def _cancelled(self) -> None:
        self.speculations.cancelled += 1
        logger.debug("A preemptive reply was withdrawn: the caller went on")
        await self.trigger_user_turn_speculation_cancelled()


OVERLAP_GAP_SECONDS = 1.2
"""Caller speech that resumes within this long of their last stretch counts with it towards
``interrupt_after``."""
HOLD_UNDECIDED_SECONDS = 1.5
"""A hold is given back this long after the caller's voice ended if nothing has decided what it
was by then (its transcript was empty, or never came)."""


class BackchannelTurnStart(BaseUserTurnStartStrategy):
    def __init__(
        self, *, interrupt_after: float, hold_audio: bool = False, stop_window: float = 0.0
    ) -> None:
        super().__init__()
        self._interrupt_after = interrupt_after
        self._hold_audio = hold_audio
        self._stop_window = stop_window
        """The VAD's silence before it says the voice stopped (with ``hold_audio``)."""
        self._holding = False
        """The bot's audio is held on the line (the caller spoke over it, undecided)."""
        self._release_timer: asyncio.Task[None] | None = None
        self._bot_speaking = False
        self._overlap_timer: asyncio.Task[None] | None = None
        self._overlapping = False
        """The caller spoke while the bot talked, and it hasn't been decided what that was."""
        self._overlap_voiced = 0.0
        """Seconds of the caller's voice (as the VAD heard it) in the undecided overlap so far."""
        self._voice_since: float | None = None
        self._voice_ended_at = 0.0

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._cancel_timer()
        await self._cancel_release()

    async def handle_user_turn_started(self) -> None:
        self._end_overlap()
        await self._cancel_timer()
        # The turn's interruption clears the line, and what was held with it.
        self._holding = False
        await self._cancel_release()

    def _end_overlap(self) -> None:
        self._overlapping = False
        self._overlap_voiced = 0.0
        self._voice_since = None

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            if not self._bot_speaking:
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            # The voice began the VAD's start window before it said so.
            began = time.monotonic() - frame.start_secs
            if began - self._voice_ended_at > OVERLAP_GAP_SECONDS:
                self._overlap_voiced = 0.0  # a new stretch of speech, not the same one going on
            self._overlapping = True
            self._voice_since = began
            await self._cancel_timer()
            await self._cancel_release()
            if self._hold_audio and not self._holding:
                self._holding = True
                await self.push_frame(BotAudioHold(hold=True))
            left = self._interrupt_after - self._overlap_voiced - frame.start_secs
            if self._holding:
                # The caller hears silence already, so there is no hurry: wait until the VAD
                # could have heard the voice stop, so that a laugh of 1.1 s isn't taken for
                # 1.2 s of speech because its end wasn't known yet.
                left += self._stop_window
            self._overlap_timer = self.task_manager.create_task(
                self._interrupt_if_still_speaking(max(0.0, left)), f"{self}::overlap"
            )
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            # The voice ended the VAD's stop window before it said so.
            self._voice_ended_at = time.monotonic() - frame.stop_secs
            if self._voice_since is not None:
                self._overlap_voiced += max(0.0, self._voice_ended_at - self._voice_since)
                self._voice_since = None
            await self._cancel_timer()  # a short stretch: its words decide
            if self._holding:
                await self._cancel_release()
                self._release_timer = self.task_manager.create_task(
                    self._release_after(HOLD_UNDECIDED_SECONDS), f"{self}::release"
                )
        elif isinstance(frame, TranscriptionFrame):
            # Once the bot has finished, a "yes" answers what it asked last: a turn. (Held
            # audio is not finished: the caller hasn't heard it.)
            bot_talking = self._bot_speaking or self._holding
            if self._overlapping and bot_talking and is_backchannel(frame.text):
                self._end_overlap()
                logger.debug("A backchannel while the bot talked: it goes on")
                if frame.text.strip():
                    await self.push_frame(CallerBackchannelFrame(text=frame.text.strip()))
                await self._release()
                await self.trigger_reset_aggregation()
                return ProcessFrameResult.STOP
            await self.trigger_user_turn_started()
            return ProcessFrameResult.STOP
        return ProcessFrameResult.CONTINUE

    async def _release(self) -> None:
        await self._cancel_release()
        if self._holding:
            self._holding = False
            await self.push_frame(BotAudioHold(hold=False))

    async def _release_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._release_timer = None
        if self._holding:
            logger.debug("Nothing came of the caller's sound: the bot goes on")
            self._end_overlap()
            await self._release()

    async def _cancel_release(self) -> None:
        timer, self._release_timer = self._release_timer, None
        await _cancel(self.task_manager, timer)

    async def _interrupt_if_still_speaking(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._overlap_timer = None
        await self.trigger_user_turn_started()

    async def _cancel_timer(self) -> None:
        timer, self._overlap_timer = self._overlap_timer, None
        await _cancel(self.task_manager, timer)


async def _cancel(task_manager: BaseTaskManager, timer: asyncio.Task[None] | None) -> None:
    """Cancel a strategy's timer, unless it is the task running this (it is ending anyway)."""
    if timer is not None and timer is not asyncio.current_task():
        await task_manager.cancel_task(timer)
