"""A warm hand-over to a caregiver: the person stays with the bot while carecall phones their
caregivers one after another, and is joined to the first who accepts.

When a red flag was heard and the person agreed to be connected (the model's
`connect_caregiver` tool), `Handover.start` does, with the person's call untouched (their media
stream and the bot go on):

1. The bot tells the person what is happening ("I'm getting hold of your son Tom for you. Stay
   where you are…") and, from then on, never leaves them in silence: each quiet spell is filled
   with a reminder that it is still trying, or the emergency advice, in turn
   (`processors.idle_prompts.IdlePrompts.stay_with`). The model is told too (a system note).
2. carecall places a separate call to the first caregiver who takes calls. When they answer,
   Twilio reads them a short summary, with the person's own words ("This is Sunny from Sunny
   Care. Molly told me on our call just now: “I fell in the bathroom and I can't get up.”"),
   and asks them to press 1 (`telephony.twiml.caregiver_offer_twiml`).
3. 1 pressed (`/twilio/handover/key`): the caregiver is put in a conference room named for
   this call at once, the bot tells the person "I'm connecting you to Tom now", and once that
   has been said the person's call is redirected into the same room; their media stream ends
   there (the call's end reason: `transferred to caregiver`).
4. Anything else (no answer, busy, another key, hanging up, no key press: the leg's status
   callback, `/twilio/handover/status`, or no word from Twilio at all within
   ``leg_timeout`` seconds): the next caregiver is called, and the person is told.
5. Nobody left: the bot tells the person, repeats the advice (call 911) and stays with them.
6. The person's call ends meanwhile (they hung up): the caregiver's call is cancelled.

Every step (dialling Tom, Tom didn't answer, Anna accepted, connected, nobody accepted, …) is
stored on the call as a numbered `pipeline.events.StepRecord` and published (`call.step`),
through the record writer: nothing here waits on the database. Steps name the caregivers,
never their numbers; logs mask the numbers.

The hand-over lives with the person's conversation, in the process that runs it; the
caregiver's webhooks find it through `HandoverDesk`. A webhook that arrives at another
instance is passed on over the event bus (`HandoverDesk.deliver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

from loguru import logger
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    LLMMessagesAppendFrame,
    TTSSpeakFrame,
    TTSTextFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.aggregators.llm_context import LLMContextMessage

from carecall.bot.builder import BuiltCall
from carecall.calls.briefs import CallBrief, CaregiverLine
from carecall.core.events import CallEvent, EventBus
from carecall.core.phones import mask_phone_number
from carecall.pipeline.events import StepRecord
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.security import HandoverTokens
from carecall.telephony.twilio_client import TwilioError
from carecall.telephony.twiml import (
    caregiver_offer_twiml,
    conference_twiml,
    say_and_hang_up,
)
from carecall.wellbeing.red_flags import RedFlag

KEY_PATH = "/twilio/handover/key"
"""Where a caregiver's key press on a hand-over call is posted (`api.twilio_handover`)."""
STATUS_PATH = "/twilio/handover/status"
"""Where the status callbacks of a hand-over call are posted."""
GENERIC_ADVICE = "If this is an emergency, please call 9 1 1 now."
SAID_WITHIN_SECONDS = 12.0
"""The longest the person's call waits for "I'm connecting you to Tom now" to be heard."""
LEG_GRACE_SECONDS = 90.0
"""On top of the ring timeout: the offer read twice with its key waits, and a late callback."""


class Step(enum.StrEnum):
    """What a stored step says happened (`persistence.models.CallStep.kind`)."""

    DIALLING = "dialling"
    ANSWERED = "answered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"
    UNREACHABLE = "unreachable"
    """The call to them could not be placed (Twilio refused it)."""
    BRIDGED = "bridged"
    BRIDGE_FAILED = "bridge_failed"
    GAVE_UP = "gave_up"
    CANCELLED = "cancelled"
    """The person's call ended while a caregiver was being called: that call was cancelled."""


class Phase(enum.Enum):
    READY = "ready"
    DIALLING = "dialling"
    BRIDGING = "bridging"
    BRIDGED = "bridged"
    GAVE_UP = "gave up"
    OVER = "over"


class LegVerdict(enum.Enum):
    """What a caregiver's key press comes to."""

    JOIN = "join"
    """They accepted and are the one the person is being connected to."""
    DECLINED = "declined"
    MOOT = "moot"
    """Too late: someone else accepted, nobody is waiting any more, or the call ended."""


_NO_ANSWER_WORDS = {
    "busy": "the line was busy",
    "no-answer": "didn't answer",
    "failed": "the call didn't go through",
    "canceled": "the call was cancelled",
}
FINAL_LEG_STATUSES = frozenset({"completed", *_NO_ANSWER_WORDS})
_E164 = re.compile(r"\+\d{7,15}")


def _failure(exc: TwilioError | MissingConfiguration) -> str:
    """Why Twilio refused, as it may be stored and logged: any phone number in it masked."""
    reason = exc.message if isinstance(exc, TwilioError) else str(exc)
    return _E164.sub(lambda m: mask_phone_number(m.group()), reason)


class PersonLine(Protocol):
    """The person's side of the call, as a hand-over needs it (their running pipeline)."""

    async def say(self, text: str) -> None:
        """Have the bot say ``text`` soon (after what it is saying)."""

    async def say_and_wait(self, text: str, timeout: float) -> None:
        """Have the bot say ``text``, nothing interrupting it; return once it has been said (or
        after ``timeout`` seconds)."""

    def stay_with(self, lines: Sequence[str]) -> None:
        """Fill every silence with the next of ``lines``; the call never ends for silence."""

    async def tell_model(self, note: str) -> None:
        """Add a system note to the model's context (no reply of its own)."""


class CaregiverPhone(Protocol):
    """What a hand-over asks of Twilio (`telephony.twilio_client.TwilioGateway`)."""

    async def call_caregiver(self, to_number: str, twiml: str, status_url: str) -> str: ...

    async def redirect(self, call_sid: str, twiml: str) -> None: ...

    async def end_call(self, call_sid: str) -> None: ...


@dataclass
class _Leg:
    """One call to one caregiver."""

    number: int
    """Counts the legs of this hand-over from 0 (in its webhook URLs, with a token)."""
    caregiver: CaregiverLine
    sid: str | None = None
    answered: bool = False
    accepted: bool = False
    over: bool = False
    timer: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class HandoverWords:
    """Who is speaking, about whom: what the caregiver and the person are told is made of it."""

    bot_name: str
    organization: str
    person: str
    """What the person is called ("Molly"); "the person we called" when not on the roster."""


@dataclass
class Handover:
    """One call's hand-over (see the module's docstring). Built with the call; `attach` gives it
    the running pipeline; `start` begins it (at most once at a time: a second start while it
    runs changes nothing; after nobody accepted, a new start tries everybody again)."""

    call_id: int
    call_sid: str
    ladder: Sequence[CaregiverLine]
    words: HandoverWords
    phone: CaregiverPhone
    tokens: HandoverTokens
    public_url: Callable[[str], str]
    record: Callable[[StepRecord], None]
    claim_call: Callable[[], bool]
    """Marks the person's call as being handed over (its end reason), unless it is already
    ending; whether it was."""
    release_call: Callable[[], None]
    """Undoes `claim_call` (the redirect failed): the conversation goes on."""
    leg_timeout: float = 120.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.phase = Phase.READY
        self._person: PersonLine | None = None
        self._legs: list[_Leg] = []
        self._round_start = 0
        self._flag: RedFlag | None = None
        self._steps = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._bridging: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._log = logger.bind(call_id=self.call_id, call_sid=self.call_sid)

    # --- what the call tells it ------------------------------------------------------------

    def attach(self, person: PersonLine) -> None:
        self._person = person

    def flagged(self, flag: RedFlag) -> None:
        """A red flag was heard: the caregivers hear its words, the person its advice."""
        self._flag = flag

    @property
    def steps(self) -> int:
        """How many steps were recorded."""
        return self._steps

    @property
    def advice(self) -> str:
        return self._flag.advice if self._flag is not None else GENERIC_ADVICE

    async def start(self) -> bool:
        """Begin calling the caregivers (the person agreed). True when a hand-over is now under
        way (or already was); False when there is nobody to call or the call is over."""
        async with self._lock:
            if self.phase in (Phase.DIALLING, Phase.BRIDGING, Phase.BRIDGED):
                return True
            if self.phase is Phase.OVER or not self.ladder or self._person is None:
                return False
            self.phase = Phase.DIALLING
            self._round_start = len(self._legs)
            first = self.ladder[0]
            self._log.info(f"Warm hand-over: {len(self.ladder)} caregiver(s) to try")
            await self._tell_model(
                f"carecall is phoning {first.spoken} now, to join this call; the person stays "
                "with you until they accept. Keep them calm and company with short, warm "
                "replies, remind them of the safety advice, and don't use connect_caregiver "
                "again."
            )
            await self._say(
                f"I'm getting hold of {first.spoken} for you now. Stay where you are, and "
                "keep the phone with you. I'll stay right here with you until they answer."
            )
            self._stay_with(self._waiting_lines(first))
            await self._dial_next()
            return True

    async def key_pressed(self, leg: int, digits: str, call_sid: str) -> LegVerdict:
        """The caregiver of ``leg`` pressed ``digits`` on the offer."""
        async with self._lock:
            current = self._current(leg)
            if current is None or self.phase is not Phase.DIALLING:
                self._log.info(f"A key press on hand-over leg {leg} came too late")
                return LegVerdict.MOOT
            current.sid = current.sid or call_sid
            name = current.caregiver.name or current.caregiver.first_name
            pressed = digits.strip()[:8]
            if pressed != "1":
                how = f" (pressed {pressed})" if pressed else ""
                self._record(Step.DECLINED, f"{name} declined{how}.")
                await self._leg_over(current)
                return LegVerdict.DECLINED
            current.accepted = True
            self.phase = Phase.BRIDGING
            self._cancel_timer(current)
            self._record(Step.ACCEPTED, f"{name} pressed 1 to take the call.")
            self._bridging = self._spawn(self._bridge(current), "handover-bridge")
            return LegVerdict.JOIN

    async def leg_status(self, leg: int, status: str, call_sid: str) -> None:
        """A status callback of the call to the caregiver of ``leg``."""
        async with self._lock:
            current = self._current(leg)
            if current is None or current.over:
                return
            name = current.caregiver.name or current.caregiver.first_name
            if current.accepted:
                if self.phase is Phase.BRIDGING and status in FINAL_LEG_STATUSES:
                    # Gone between pressing 1 and the person being moved: try the next one.
                    self.phase = Phase.DIALLING
                    self._cancel(self._bridging)
                    self._record(Step.DECLINED, f"{name} hung up before being connected.")
                    await self._leg_over(current)
                return
            if self.phase is not Phase.DIALLING:
                return
            current.sid = current.sid or call_sid
            if status == "in-progress" and not current.answered:
                current.answered = True
                self._record(Step.ANSWERED, f"{name} answered and is hearing what happened.")
            elif status == "completed":
                self._record(
                    Step.DECLINED,
                    f"{name} hung up without pressing 1."
                    if current.answered
                    else f"{name} didn't take the call.",
                )
                await self._leg_over(current)
            elif status in _NO_ANSWER_WORDS:
                self._record(Step.NO_ANSWER, f"{name}: {_NO_ANSWER_WORDS[status]}.")
                await self._leg_over(current)

    async def person_left(self, why: str) -> None:
        """The person's conversation ended (``why``: its end reason). A caregiver still being
        called is cancelled; one already connected is not touched."""
        async with self._lock:
            phase, self.phase = self.phase, Phase.OVER
            current = self._legs[-1] if self._legs else None
            if phase is Phase.DIALLING and current is not None and not current.over:
                current.over = True
                self._cancel_timer(current)
                name = current.caregiver.name or current.caregiver.first_name
                self._record(
                    Step.CANCELLED,
                    f"{self.words.person} hung up while {name} was being called; that call "
                    "was cancelled."
                    if why == "caller-hangup"
                    else f"The call ended ({why}) while {name} was being called; that call "
                    "was cancelled.",
                )
                if current.sid is not None:
                    await self._end_leg(current.sid)
            elif phase is Phase.BRIDGING and current is not None:
                # Gone before the redirect: whatever happens to the redirect, nobody is there.
                name = current.caregiver.name or current.caregiver.first_name
                self._record(
                    Step.CANCELLED,
                    f"{self.words.person}'s call ended before {name} was connected.",
                )
                self._cancel(self._bridging)
                if current.sid is not None:
                    await self._tell_leg(
                        current.sid,
                        f"I'm sorry, {self.words.person}'s call ended before I could connect "
                        "you. Please call them now. Goodbye.",
                    )
            for leg in self._legs:
                self._cancel_timer(leg)

    # --- the ladder ------------------------------------------------------------------------

    def _current(self, leg: int) -> _Leg | None:
        if not self._legs or self._legs[-1].number != leg:
            return None
        return self._legs[-1]

    async def _dial_next(self) -> None:
        """Call the next caregiver of this round, or give up when there is none. Runs under
        the lock."""
        while True:
            index = len(self._legs) - self._round_start
            if index >= len(self.ladder):
                await self._give_up()
                return
            leg = _Leg(len(self._legs), self.ladder[index])
            self._legs.append(leg)
            name = leg.caregiver.name or leg.caregiver.first_name
            self._record(Step.DIALLING, f"Calling {name} to take the call.")
            self._log.info(
                f"Hand-over: calling caregiver {index + 1} "
                f"({mask_phone_number(leg.caregiver.phone_number)})"
            )
            try:
                leg.sid = await self.phone.call_caregiver(
                    leg.caregiver.phone_number,
                    self._offer(leg),
                    self._leg_url(STATUS_PATH, leg.number),
                )
            except (TwilioError, MissingConfiguration) as exc:
                reason = _failure(exc)
                self._log.warning(f"Hand-over: could not call caregiver {index + 1}: {reason}")
                self._record(Step.UNREACHABLE, f"{name} could not be called: {reason}")
                leg.over = True
                if index + 1 < len(self.ladder):
                    await self._say_next(leg.caregiver, self.ladder[index + 1])
                continue
            leg.timer = asyncio.create_task(self._time_out(leg), name="handover-leg-timeout")
            return

    async def _leg_over(self, leg: _Leg) -> None:
        """``leg`` ended without an acceptance: on to the next caregiver. Under the lock."""
        leg.over = True
        self._cancel_timer(leg)
        index = leg.number - self._round_start
        if index + 1 < len(self.ladder):
            await self._say_next(leg.caregiver, self.ladder[index + 1])
        await self._dial_next()

    async def _say_next(self, missed: CaregiverLine, next_one: CaregiverLine) -> None:
        await self._tell_model(
            f"{missed.first_name} didn't take the call; carecall is phoning {next_one.spoken} now."
        )
        await self._say(
            f"{missed.first_name} can't come to the phone just now, so I'm calling "
            f"{next_one.spoken}. Stay where you are; I'm right here with you."
        )
        self._stay_with(self._waiting_lines(next_one))

    async def _give_up(self) -> None:
        self.phase = Phase.GAVE_UP
        tried = _names(
            [
                leg.caregiver.name or leg.caregiver.first_name
                for leg in self._legs[self._round_start :]
            ]
        )
        self._record(
            Step.GAVE_UP,
            f"Nobody took the call (tried {tried}); the bot stayed with {self.words.person} "
            "and repeated the safety advice.",
        )
        self._log.warning("Hand-over: no caregiver took the call")
        firsts = _names([line.first_name for line in self.ladder])
        await self._tell_model(
            f"Nobody could be reached by phone ({firsts}). Tell them kindly, repeat the safety "
            "advice, and stay with them; don't end the call unless they want to. If they ask, "
            "you may use connect_caregiver to try everybody again."
        )
        await self._say(
            f"I'm sorry, I couldn't reach {firsts} just now. {self.advice} "
            "I'm staying right here with you."
        )
        self._stay_with(
            [self.advice, "I'm still here with you. Stay where you are, and keep the phone close."]
        )

    async def _time_out(self, leg: _Leg) -> None:
        await asyncio.sleep(self.leg_timeout)
        async with self._lock:
            if leg.over or leg.accepted or self.phase is not Phase.DIALLING:
                return
            leg.timer = None
            name = leg.caregiver.name or leg.caregiver.first_name
            self._record(Step.NO_ANSWER, f"{name}: no word from the call in time; hung up.")
            if leg.sid is not None:
                await self._end_leg(leg.sid)
            await self._leg_over(leg)

    # --- connecting ----------------------------------------------------------------------

    async def _bridge(self, leg: _Leg) -> None:
        """Tell the person, then move their call into the room the caregiver is joining."""
        first = leg.caregiver.first_name
        name = leg.caregiver.name or first
        if self._person is not None:
            await self._person.say_and_wait(
                f"{first} is on the line. I'm connecting you to {first} now.",
                SAID_WITHIN_SECONDS,
            )
        async with self._lock:
            if self.phase is not Phase.BRIDGING:
                return  # the person's call ended meanwhile (`person_left` told the caregiver)
            if not self.claim_call():
                self.phase = Phase.OVER
                self._record(Step.BRIDGE_FAILED, f"The call was ending; {name} was not connected.")
                if leg.sid is not None:
                    await self._tell_leg(
                        leg.sid, f"I'm sorry, the call with {self.words.person} has ended."
                    )
                return
            self.phase = Phase.BRIDGED
        room = self.tokens.room(self.call_id)
        try:
            await self.phone.redirect(
                self.call_sid,
                conference_twiml(
                    room,
                    after=f"{first} has left the call. If you need help, please call 9 1 1. "
                    "Goodbye.",
                ),
            )
        except (TwilioError, MissingConfiguration) as exc:
            reason = _failure(exc)
            self._log.warning(f"Hand-over: could not connect the person's call: {reason}")
            async with self._lock:
                self.release_call()
                self._record(Step.BRIDGE_FAILED, f"{name} could not be connected: {reason}")
                if leg.sid is not None:
                    await self._tell_leg(
                        leg.sid,
                        f"I'm sorry, I couldn't connect you to {self.words.person}. Please "
                        "call them now. Goodbye.",
                    )
                if self.phase is Phase.BRIDGED:  # the person is still with the bot
                    self.phase = Phase.GAVE_UP
                    await self._say(
                        f"I'm sorry, I couldn't connect you to {first}. {self.advice} "
                        "I'm staying right here with you."
                    )
                    self._stay_with([self.advice, "I'm still here with you."])
            return
        self._record(Step.BRIDGED, f"{self.words.person} and {name} were connected.")
        self._log.info("Hand-over: the person and the caregiver are connected")

    async def dismiss(self, call_sid: str) -> None:
        """A caregiver who pressed 1 too late (someone else is connected, or nobody is waiting
        any more) was already put in the room by another instance: tell them and hang up."""
        await self._tell_leg(
            call_sid,
            f"Thank you. {self.words.person} is no longer waiting on this call. Goodbye.",
        )

    # --- what the caregiver hears --------------------------------------------------------

    def summary(self) -> str:
        """The one-sentence summary the caregiver hears first (nothing masked: it is for them)."""
        hello = f"This is {self.words.bot_name} from {self.words.organization}."
        if self._flag is not None and self._flag.evidence:
            said = self._flag.evidence.rstrip(".!?…, ")
            return f"{hello} {self.words.person} told me on our call just now: “{said}.”"
        return f"{hello} {self.words.person} asked me to get you on the phone, urgently."

    def _offer(self, leg: _Leg) -> str:
        return caregiver_offer_twiml(
            self.summary(),
            f"Press 1 to talk to {self.words.person} now, or hang up if you can't.",
            self._leg_url(KEY_PATH, leg.number),
            "We didn't hear a key press, so we'll try someone else. Goodbye.",
        )

    def _leg_url(self, path: str, leg: int) -> str:
        query = urlencode(
            {"call_id": self.call_id, "leg": leg, "token": self.tokens.issue(self.call_id, leg)}
        )
        return self.public_url(f"{path}?{query}")

    # --- helpers -------------------------------------------------------------------------

    def _waiting_lines(self, caregiver: CaregiverLine) -> list[str]:
        return [
            f"I'm still getting hold of {caregiver.first_name} for you. Stay where you are; "
            "I'm right here with you.",
            self.advice,
        ]

    def _record(self, step: Step, text: str) -> None:
        self._steps += 1
        self.record(StepRecord(self.call_id, self._steps, step.value, text, self.now()))

    async def _say(self, text: str) -> None:
        if self._person is not None and self.phase is not Phase.OVER:
            await self._person.say(text)

    def _stay_with(self, lines: Sequence[str]) -> None:
        if self._person is not None and self.phase is not Phase.OVER:
            self._person.stay_with(lines)

    async def _tell_model(self, note: str) -> None:
        if self._person is not None and self.phase is not Phase.OVER:
            await self._person.tell_model(note)

    async def _end_leg(self, sid: str) -> None:
        try:
            await self.phone.end_call(sid)
        except (TwilioError, MissingConfiguration) as exc:
            self._log.warning(f"Hand-over: could not end a caregiver's call: {_failure(exc)}")

    async def _tell_leg(self, sid: str, text: str) -> None:
        try:
            await self.phone.redirect(sid, say_and_hang_up(text))
        except (TwilioError, MissingConfiguration) as exc:
            self._log.warning(f"Hand-over: could not tell a caregiver's call: {_failure(exc)}")

    def _spawn(self, work: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _cancel_timer(self, leg: _Leg) -> None:
        timer, leg.timer = leg.timer, None
        self._cancel(timer)

    @staticmethod
    def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def wait_idle(self) -> None:
        """Wait for the work it started in the background (connecting), not its timers."""
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.wait(pending)


def _names(names: Sequence[str]) -> str:
    """`Tom`, `Tom and Anna`, `Tom, Anna and Sue`."""
    unique = list(dict.fromkeys(names))
    if len(unique) <= 1:
        return unique[0] if unique else "nobody"
    return ", ".join(unique[:-1]) + " and " + unique[-1]


# --- the person's side: the running pipeline -------------------------------------------------


def _words(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


class SpokenLines(BaseObserver):
    """Tells when a line given to the bot has been said: the call's output has sent the audio
    of its last words (their `TTSTextFrame` follows that audio out) and the bot has stopped
    speaking."""

    def __init__(self, output: object) -> None:
        super().__init__()
        self._output = output
        self._waiting: list[tuple[str, asyncio.Future[None]]] = []
        self._sent: list[asyncio.Future[None]] = []

    def expect(self, text: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((_words(text), future))
        return future

    async def on_push_frame(self, data: FramePushed) -> None:
        if data.source is not self._output:
            return
        frame = data.frame
        if isinstance(frame, TTSTextFrame):
            said = _words(frame.text)
            for entry in list(self._waiting):
                tail, future = entry
                if said and tail.endswith(said):
                    self._waiting.remove(entry)
                    self._sent.append(future)
        elif isinstance(frame, BotStoppedSpeakingFrame):
            sent, self._sent = self._sent, []
            for future in sent:
                if not future.done():
                    future.set_result(None)


class PipelinePerson:
    """`PersonLine` over a call's running pipeline."""

    def __init__(self, call: BuiltCall, stay_after: float) -> None:
        self._call = call
        self._stay_after = stay_after
        self._spoken = SpokenLines(call.transport.output())
        call.worker.add_observer(self._spoken)

    async def say(self, text: str) -> None:
        await self._call.worker.queue_frames([TTSSpeakFrame(text)])

    async def say_and_wait(self, text: str, timeout: float) -> None:
        said = self._spoken.expect(text)
        speak = TTSSpeakFrame(text)
        speak.interruptible = False
        await self._call.worker.queue_frames([speak])
        try:
            await asyncio.wait_for(said, timeout)
        except TimeoutError:
            logger.warning(f"A line was not heard within {timeout:.0f} s; going on")

    def stay_with(self, lines: Sequence[str]) -> None:
        if self._call.idle is not None:
            self._call.idle.stay_with(lines, self._stay_after)

    async def tell_model(self, note: str) -> None:
        message: LLMContextMessage = {"role": "system", "content": note}
        await self._call.worker.queue_frames(
            [LLMMessagesAppendFrame(messages=[message], run_llm=False)]
        )


# --- this process's hand-overs ---------------------------------------------------------------


@dataclass(frozen=True)
class LegSignal:
    """What a caregiver's webhook says about one leg of a hand-over."""

    call_id: int
    leg: int
    call_sid: str
    digits: str | None = None
    """The key pressed (`/twilio/handover/key`); None for a status callback."""
    status: str | None = None
    """The leg's CallStatus (`/twilio/handover/status`)."""

    def to_event(self) -> CallEvent:
        return CallEvent(
            "handover.signal",
            self.call_id,
            {
                "leg": self.leg,
                "call_sid": self.call_sid,
                "digits": self.digits,
                "status": self.status,
            },
        )

    @classmethod
    def of(cls, event: CallEvent) -> LegSignal | None:
        data = event.data
        leg, sid = data.get("leg"), data.get("call_sid")
        digits, status = data.get("digits"), data.get("status")
        if not isinstance(leg, int) or not isinstance(sid, str):
            return None
        return cls(
            event.call_id,
            leg,
            sid,
            digits if isinstance(digits, str) else None,
            status if isinstance(status, str) else None,
        )


class HandoverDesk:
    """This process's hand-overs, by call id: one is opened with each phone call of someone
    with caregivers who take calls; the caregivers' webhooks reach it here (`deliver`). A
    webhook for a hand-over running on another instance is published on the event bus
    (`handover.signal`), and every desk hands the signals for its own hand-overs on (`start`
    runs that listener)."""

    def __init__(
        self,
        settings: Settings,
        phone: CaregiverPhone,
        record: Callable[[StepRecord], None],
        bus: EventBus,
        *,
        leg_timeout: float | None = None,
    ) -> None:
        self._settings = settings
        self._phone = phone
        self._record = record
        self._bus = bus
        self.tokens = HandoverTokens(settings.session_secret.get_secret_value())
        self._leg_timeout = (
            leg_timeout
            if leg_timeout is not None
            else settings.ring_timeout_seconds + LEG_GRACE_SECONDS
        )
        self._by_call: dict[int, Handover] = {}
        self._listener: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._by_call)

    def open(
        self,
        *,
        call_id: int,
        call_sid: str,
        brief: CallBrief,
        claim_call: Callable[[], bool],
        release_call: Callable[[], None],
    ) -> Handover | None:
        """The hand-over of a phone call that is starting; None when the person has no
        caregiver who takes calls."""
        if not brief.connect_ladder:
            return None
        handover = Handover(
            call_id=call_id,
            call_sid=call_sid,
            ladder=brief.connect_ladder,
            words=HandoverWords(
                bot_name=self._settings.bot_name,
                organization=self._settings.organization_name,
                person=brief.spoken_name or "the person we called",
            ),
            phone=self._phone,
            tokens=self.tokens,
            public_url=self._settings.public_url,
            record=self._record,
            claim_call=claim_call,
            release_call=release_call,
            leg_timeout=self._leg_timeout,
        )
        self._by_call[call_id] = handover
        return handover

    def find(self, call_id: int) -> Handover | None:
        return self._by_call.get(call_id)

    def close(self, call_id: int, handover: Handover) -> None:
        if self._by_call.get(call_id) is handover:
            del self._by_call[call_id]

    async def deliver(self, signal: LegSignal) -> LegVerdict | None:
        """Hand a caregiver's webhook to its hand-over: here, with what a key press comes to;
        else over the bus to the instance that runs it (None: not known here)."""
        handover = self._by_call.get(signal.call_id)
        if handover is None:
            await self._bus.publish(signal.to_event())
            return None
        return await self._apply(handover, signal)

    async def _apply(self, handover: Handover, signal: LegSignal) -> LegVerdict | None:
        if signal.digits is not None:
            return await handover.key_pressed(signal.leg, signal.digits, signal.call_sid)
        if signal.status is not None:
            await handover.leg_status(signal.leg, signal.status, signal.call_sid)
        return None

    # --- signals from other instances --------------------------------------------------------

    async def start(self) -> None:
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready), name="handover-signals")
        await ready.wait()

    async def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self, ready: asyncio.Event) -> None:
        async with self._bus.subscribe() as events:
            ready.set()
            async for event in events:
                if event.kind != "handover.signal":
                    continue
                handover = self._by_call.get(event.call_id)
                signal = LegSignal.of(event)
                if handover is None or signal is None:
                    continue
                try:
                    verdict = await self._apply(handover, signal)
                    if signal.digits == "1" and verdict is LegVerdict.MOOT:
                        # The other instance put the caregiver in the room already.
                        await handover.dismiss(signal.call_sid)
                except Exception:
                    logger.bind(call_id=event.call_id).exception(
                        "A hand-over signal from another instance failed"
                    )
