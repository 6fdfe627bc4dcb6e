"""`LineScreen`: who answered the phone, told from the first words the line says: the person, an
answering machine, or a call-screening assistant ("Please say your name and why you're calling").

Sits right after speech-to-text; only the transcripts it forwards are the person's (the call's
recorder stores those alone, `CallRecorder(heard_by=...)`). It works with the call's
`VoicemailDrop` and `ReplyGate`.

* The line's first transcript decides, read with the words of the call's language
  (``machine_words``, ``screener_words``: `core.languages.screening_words`, the person's
  language's and English). A machine's greeting ("you have reached", "leave a message after
  the tone", "deje su mensaje después del tono") makes the drop suspect a machine: the gate
  closes, the bot falls silent. Twilio's verdict after the beep normally leaves the message;
  if none has come ``verdict_wait`` seconds after the line last spoke, ``on_machine`` is told
  (it leaves the message itself). That timer also runs when the verdict ``machine_start``
  made the drop suspect a machine.
* A call screener's question: the bot stops, the gate closes, and the screener is answered once
  with ``screener_answer`` (a `LineSpeechFrame`), then the bot waits. What the line says
  before that answer has been spoken, or in a screener's words ("please stay on the line"),
  is still the screener's; a machine's words mean the person declined (as above). Anything
  else is the person, who picked up: the gate opens and their first turn is answered with the
  call's greeting, which they never heard.
* Otherwise it was the person, and from then on every transcript is forwarded, unless a machine
  is suspected (Twilio's verdict), after which none is.

Consumes the transcripts that are not the person's and, while the reply gate is closed, the
`UserStoppedSpeakingFrame`s going upstream (no reply is due to the line then, so
`ServiceErrorFallback`'s reply deadline must not start and say its line to a machine); forwards
every other frame unchanged.
"""

from __future__ import annotations

import asyncio
import enum
import re
from collections.abc import Awaitable, Callable, Sequence

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from carecall.core.languages import ENGLISH
from carecall.processors.reply_gate import LineSpeechFrame, NotThePersonFrame
from carecall.processors.voicemail import VoicemailDrop

MACHINE_WORDS = ENGLISH.machine_words
"""What an answering machine's greeting (or a screener sending the call to one) says in English
(`core.languages`: each language has its own), and a person picking up does not."""
SCREENER_WORDS = ENGLISH.screener_words
"""What a call-screening assistant says in English (Google's Call Screen, Apple's Call
Screening, ...)."""
DEFAULT_VERDICT_WAIT = 4.0


class _Answered(enum.Enum):
    UNKNOWN = "unknown"
    SCREENER = "screener"
    MACHINE = "machine"
    PERSON = "person"


class LineScreen(FrameProcessor):
    def __init__(
        self,
        voicemail: VoicemailDrop,
        *,
        screener_answer: str,
        greeting: Sequence[str],
        on_machine: Callable[[], Awaitable[object]],
        verdict_wait: float = DEFAULT_VERDICT_WAIT,
        machine_words: re.Pattern[str] = MACHINE_WORDS,
        screener_words: re.Pattern[str] = SCREENER_WORDS,
    ) -> None:
        super().__init__(enable_direct_mode=True, name="line-screen")  # never waits
        self._voicemail = voicemail
        self._screener_answer = screener_answer
        self._greeting = list(greeting)
        self._on_machine = on_machine
        self._verdict_wait = verdict_wait
        self._machine_words = machine_words
        self._screener_words = screener_words
        self._answered = _Answered.UNKNOWN
        self._answer_pushed = False
        self._answer_playing = False
        self._answer_heard = False
        self._timer: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_timer()
        if isinstance(frame, (TranscriptionFrame, InterimTranscriptionFrame)):
            if not await self._is_the_person(frame):
                return
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._stop_timer()  # the machine still talks: its beep is still to come
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._machine_timer()
        elif (
            isinstance(frame, UserStoppedSpeakingFrame)
            and direction is FrameDirection.UPSTREAM
            and self._voicemail.gate.closed
        ):
            return
        elif isinstance(frame, BotStartedSpeakingFrame) and self._answer_pushed:
            self._answer_playing = True
        elif isinstance(frame, BotStoppedSpeakingFrame) and self._answer_playing:
            self._answer_heard = True
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop_timer()

    async def _is_the_person(self, frame: TranscriptionFrame | InterimTranscriptionFrame) -> bool:
        """Whether ``frame`` is the person's words; acts on a machine or a screener."""
        if self._voicemail.suspected:
            await self._machine_timer()
            return False
        if self._answered is _Answered.PERSON:
            return True
        if isinstance(frame, InterimTranscriptionFrame):
            return False  # the final transcript decides
        text = frame.text
        if self._machine_words.search(text):
            logger.info("An answering machine's greeting was heard; the bot waits for the beep")
            self._answered = _Answered.MACHINE
            await self._voicemail.suspect()
            await self._machine_timer()
            return False
        if self._answered is _Answered.SCREENER:
            if not self._answer_heard or self._screener_words.search(text):
                return False
            logger.info("The person picked up after the call screener")
            self._answered = _Answered.PERSON
            self._voicemail.gate.open(greet_with=self._greeting)
            return True
        if self._screener_words.search(text):
            logger.info("A call screener answered; the bot says who is calling, once")
            self._answered = _Answered.SCREENER
            self._voicemail.gate.close()
            await self.broadcast_interruption()
            await self.push_frame(NotThePersonFrame())
            await self.push_frame(LineSpeechFrame(self._screener_answer))
            self._answer_pushed = True
            return False
        self._answered = _Answered.PERSON
        return True

    async def _machine_timer(self) -> None:
        """(Re)start the wait for Twilio's verdict while a machine is suspected."""
        await self._stop_timer()
        if self._voicemail.suspected and not self._voicemail.leaving:
            self._timer = self.create_task(self._no_verdict(), "no-verdict")

    async def _no_verdict(self) -> None:
        await asyncio.sleep(self._verdict_wait)
        self._timer = None
        if not self._voicemail.leaving:
            logger.info(
                f"No answering-machine verdict {self._verdict_wait:.1f} s after the machine "
                "last spoke: the message is left now"
            )
            await self._on_machine()

    async def _stop_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            await self.cancel_task(timer)
