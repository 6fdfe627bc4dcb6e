"""Running one conversation, from the greeting to the end: on a Twilio media websocket
(`run_conversation`), or on any line already built (`converse`: the browser's too).

A phone call greets the person by name when it was placed for someone on the roster (its
`calls.briefs.CallBrief`), and can be told from outside while it runs (`CallControl`, found
through `ActiveCalls`) that an answering machine took it: it then leaves a message and ends.
It also tells from the first words heard who answered (`processors.line_screen`): an
answering machine's greeting makes it wait silently for the beep (and leave the message itself
if Twilio's verdict never comes); a call screener gets one sentence saying who calls. After a
red flag, someone with caregivers who take calls can be handed over to one of them, warmly
(`calls.handover`: they stay with the bot until a caregiver accepts).

Everything it says is in the person's language (`CallBrief.language`, `core.languages`), and its
services hear and speak it. A call in a language this server's services don't speak is refused
when it would be placed (`calls.service`); should one connect all the same (their language was
changed while it rang), it is hung up without a word rather than held in the wrong language.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi import WebSocket
from loguru import logger
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.workers.runner import WorkerRunner

from carecall.bot import prompts
from carecall.bot.builder import (
    BuiltCall,
    CallCare,
    LineScreening,
    MediaStream,
    build_call_worker,
    twilio_line,
)
from carecall.bot.services import CallLanguages, ServiceClients, build_call_services
from carecall.calls.briefs import GENERIC_BRIEF, CallBrief
from carecall.calls.handover import Handover, HandoverDesk, PipelinePerson
from carecall.calls.recorder import RecordWriter
from carecall.calls.recordings import CallRecordings
from carecall.core.end_reasons import (
    BOT_HANGUP,
    CALLER_HANGUP,
    NOT_SPOKEN_REASON,
    STREAM_CLOSED,
    TRANSFER_REASON,
    VOICEMAIL_REASON,
    bot_hangup,
)
from carecall.core.events import CallEvent, EventBus
from carecall.core.languages import catalogue
from carecall.pipeline.events import CallNote
from carecall.pipeline.turns import next_patience
from carecall.processors.voicemail import VoicemailDrop
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.twilio_client import TwilioError, TwilioGateway
from carecall.wellbeing.red_flags import RedFlag

if TYPE_CHECKING:
    from loguru import Logger


@dataclass
class Ending:
    """Why a conversation ended; the first reason given wins."""

    reason: str | None = None
    opted_out: bool = False
    """The person asked never to be called again (the `opt_out` tool, the guided check-in)."""

    def bot_ends_call(self, reason: str) -> None:
        self.reason = self.reason or bot_hangup(reason)

    def bot_ends_call_opted_out(self, reason: str) -> None:
        self.opted_out = True
        self.bot_ends_call(reason)

    @property
    def bot_hangs_up(self) -> bool:
        """Whether carecall, not the person, ended the call (then it hangs up through Twilio)."""
        reason = self.reason or ""
        return reason.startswith(BOT_HANGUP) or reason == VOICEMAIL_REASON


@dataclass
class CallControl:
    """What the rest of this process may do to a running phone call."""

    ending: Ending
    voicemail: VoicemailDrop
    voicemail_message: str
    call_sid: str | None = None
    """Twilio's SID of the call (from its media stream's start)."""
    shutdown_goodbye: str = prompts.SHUTDOWN_GOODBYE
    """The goodbye when the server shuts down mid-call, in the call's language."""

    async def leave_voicemail(self) -> bool:
        """An answering machine took the call and has beeped: drop what the bot was saying,
        leave the message, end the call (reason `voicemail`). False when the call is already
        ending for another reason."""
        if self.ending.reason is not None:
            return False
        self.ending.reason = VOICEMAIL_REASON
        return await self.voicemail.leave_message(self.voicemail_message)

    async def suspect_machine(self) -> bool:
        """An answering machine seems to have answered and its beep is still to come: the bot
        stops and nothing the line says starts a reply (the message waits for
        `leave_voicemail`). False when already suspected or the call is ending."""
        if self.ending.reason is not None:
            return False
        return await self.voicemail.suspect()

    async def wrap_up(self, goodbye: str | None, reason: str) -> bool:
        """End the call politely from outside (the server is shutting down): the bot stops,
        says ``goodbye`` (None: the call's `shutdown_goodbye`; nothing interrupts it) and hangs
        up; the end reason is `bot-hangup: {reason}`. False when the call is already ending for
        another reason."""
        if self.ending.reason is not None:
            return False
        self.ending.bot_ends_call(reason)
        return await self.voicemail.leave_message(goodbye or self.shutdown_goodbye, reason=reason)


class ActiveCalls:
    """The conversations running in this process (for metrics and graceful shutdown).

    Soon after calls end it has the garbage collector reclaim what they left: a call's pipeline
    leaves reference cycles (pipecat's processors, tasks and frames), and the collector's own
    thresholds, which count allocations, let about 30,000 such objects pile up for minutes
    before a full pass; the server's memory rose by 6 % in steps in a 10-minute soak
    (bench/README.md). One full pass takes about 20 ms of the event loop with 16 calls live
    (the heap made at start-up is frozen, see `server.py`), so it runs at most every
    ``collect_every`` seconds, ``settle`` seconds after a call ends.
    """

    def __init__(self, *, collect_every: float = 30.0, settle: float = 1.0) -> None:
        self.by_call_id: dict[int, asyncio.Task[None]] = {}
        self._controls: dict[int, CallControl] = {}
        self._collect_every = collect_every
        self._settle = settle
        self._collection: asyncio.TimerHandle | None = None
        self._last_collection = -collect_every
        self._none_left = asyncio.Event()
        self._none_left.set()

    def __len__(self) -> int:
        return len(self.by_call_id)

    def started(self, call_id: int, task: asyncio.Task[None]) -> None:
        self.by_call_id[call_id] = task
        self._none_left.clear()

    async def wait_until_none(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no conversation runs; whether none does."""
        try:
            await asyncio.wait_for(self._none_left.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def attach(self, call_id: int, control: CallControl) -> None:
        """The running call's control handle (once its pipeline is built)."""
        self._controls[call_id] = control

    def control(self, call_id: int) -> CallControl | None:
        """The control handle of a call whose pipeline runs in this process, else None."""
        return self._controls.get(call_id)

    def ended(self, call_id: int) -> None:
        self.by_call_id.pop(call_id, None)
        self._controls.pop(call_id, None)
        if not self.by_call_id:
            self._none_left.set()
        if self._collection is None:
            loop = asyncio.get_running_loop()
            due = max(loop.time() + self._settle, self._last_collection + self._collect_every)
            self._collection = loop.call_at(due, self._collect)

    def _collect(self) -> None:
        self._collection = None
        started = time.perf_counter()
        found = gc.collect()
        self._last_collection = asyncio.get_running_loop().time()
        logger.debug(
            f"Collected {found} objects left by ended calls in "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )


async def run_conversation(
    websocket: WebSocket,
    stream: MediaStream,
    *,
    settings: Settings,
    clients: ServiceClients,
    writer: RecordWriter,
    bus: EventBus,
    twilio: TwilioGateway | None,
    brief: CallBrief = GENERIC_BRIEF,
    active_calls: ActiveCalls | None = None,
    alerts: RedFlagAlerts | None = None,
    handovers: HandoverDesk | None = None,
    recordings: CallRecordings | None = None,
) -> None:
    """A Twilio media stream's conversation with the person in ``brief``; with ``twilio``
    None (a demo call, which dials no one) the bot's hang-up only closes the stream. The
    call's `CallControl` is attached to ``active_calls`` while it runs. With ``handovers``,
    someone with caregivers who take calls can be handed over to one of them, warmly
    (`calls.handover`), after a red flag. The call is recorded (by ``recordings``) only when
    the brief says the person agreed to it."""
    ending = Ending()
    control: CallControl | None = None
    refusal = CallLanguages.of(settings).refusal(brief.spoken_name or "The person", brief.language)
    if refusal is not None:
        await _refuse(websocket, stream, refusal, brief.language, writer=writer, twilio=twilio)
        return
    language = catalogue(brief.language).code
    handover = (
        open_handover(handovers, stream, brief, ending)
        if handovers is not None and twilio is not None and settings.red_flags
        else None
    )

    async def machine_heard() -> bool:
        # The control is made as soon as the call is built, long before a machine is heard.
        return control is not None and await control.leave_voicemail()

    try:
        prompt = system_prompt(settings, brief)
        services = build_call_services(settings, clients, system_prompt=prompt, language=language)
        line = twilio_line(websocket, stream, settings)
        call = build_call_worker(
            line,
            call_id=stream.call_id,
            settings=settings,
            services=services,
            sink=writer,
            on_bot_ends_call=ending.bot_ends_call,
            on_opt_out=ending.bot_ends_call_opted_out,
            greeting=greeting(settings, brief),
            care=call_care(stream, brief, clients, alerts, handover, ending)
            if settings.red_flags
            else None,
            patience=brief.patience,
            screening=LineScreening(screener_answer(settings, brief), machine_heard),
            language=language,
        )
    except BaseException:
        if handover is not None and handovers is not None:
            handovers.close(stream.call_id, handover)  # never built: nothing to hand over
        raise
    if handover is not None:
        handover.attach(PipelinePerson(call, settings.handover_reassure_seconds))
    control = CallControl(
        ending,
        call.voicemail,
        voicemail_message(settings, brief),
        stream.call_sid,
        shutdown_goodbye=prompts.call_lines(language).shutdown_goodbye,
    )
    if active_calls is not None:
        active_calls.attach(stream.call_id, control)
    recording = None
    if recordings is not None and brief.record:
        recording = line.serializer.listener = recordings.record(stream.call_id)
    try:
        await converse(
            call,
            stream.call_id,
            writer=writer,
            bus=bus,
            ending=ending,
            caller_hung_up=lambda: line.caller_hung_up,
            log=logger.bind(call_id=stream.call_id, call_sid=stream.call_sid),
        )
    finally:
        if handover is not None and handovers is not None:
            await handover.person_left(ending.reason or CALLER_HANGUP)
            handovers.close(stream.call_id, handover)
        if recording is not None:
            recording.close()
        if brief.senior_id is not None and not call.voicemail.leaving:
            writer.submit(CallNote(stream.call_id, turn_patience=learnt_patience(call, settings)))
        if twilio is not None and ending.bot_hangs_up:
            await _hang_up_quietly(twilio, stream.call_sid)


async def _refuse(
    websocket: WebSocket,
    stream: MediaStream,
    why: str,
    language: str,
    *,
    writer: RecordWriter,
    twilio: TwilioGateway | None,
) -> None:
    """A call connected in a language this server can't speak: say nothing, store why, and
    hang up (its check-in counts the try as failed, `checkins.outcomes`). The log names the
    language, not the person."""
    logger.bind(call_id=stream.call_id, call_sid=stream.call_sid).error(
        f"Call hung up unspoken: this server's speech doesn't speak its language ({language[:16]})"
    )
    writer.submit(CallNote(stream.call_id, error=why, end_reason=NOT_SPOKEN_REASON))
    await websocket.close(code=1000, reason="not in their language")
    if twilio is not None:
        await _hang_up_quietly(twilio, stream.call_sid)


class RedFlagAlerts(Protocol):
    """Where a red flag heard in a call goes (`wellbeing.alerts.AlertService`)."""

    def red_flag_soon(
        self,
        *,
        call_id: int,
        senior_id: int | None,
        category: str,
        evidence: str,
        detector: str,
        advice: str,
    ) -> None: ...


def red_flag_alerter(
    call_id: int, senior_id: int | None, alerts: RedFlagAlerts | None
) -> Callable[[RedFlag], None]:
    """A call's ``on_red_flag``, whatever its channel: it only starts the alert (stored, on the
    dashboard, texted to the person's caregivers when there is a person) in the background."""

    def on_red_flag(flag: RedFlag) -> None:
        if alerts is not None:
            alerts.red_flag_soon(
                call_id=call_id,
                senior_id=senior_id,
                category=flag.category.value,
                evidence=flag.evidence,
                detector=flag.detector,
                advice=flag.advice,
            )

    return on_red_flag


def call_care(
    stream: MediaStream,
    brief: CallBrief,
    clients: ServiceClients,
    alerts: RedFlagAlerts | None,
    handover: Handover | None,
    ending: Ending,
) -> CallCare:
    """What this call does when something urgent is heard: the alert (stored, on the dashboard
    and texted to the caregivers, all in the background) and, for someone with caregivers who
    take calls, the offer to get one of them on the line (a warm hand-over: `calls.handover`;
    the hand-over quotes the red flag's words to the caregiver)."""
    alert = red_flag_alerter(stream.call_id, brief.senior_id, alerts)
    line = brief.connect_to
    if line is None or handover is None:
        return CallCare(alert, clients.red_flag_check)
    warm = handover

    def on_red_flag(flag: RedFlag) -> None:
        warm.flagged(flag)
        alert(flag)

    async def put_through() -> bool:
        if ending.reason is not None:
            return False
        return await warm.start()

    return CallCare(on_red_flag, clients.red_flag_check, line.spoken, put_through)


def open_handover(
    handovers: HandoverDesk, stream: MediaStream, brief: CallBrief, ending: Ending
) -> Handover | None:
    """The call's hand-over (None: nobody to hand over to). Connecting the person ends the
    conversation with the reason `transferred to caregiver`, unless it is already ending."""

    def claim_call() -> bool:
        if ending.reason is not None:
            return False
        ending.reason = TRANSFER_REASON
        return True

    def release_call() -> None:
        if ending.reason == TRANSFER_REASON:
            ending.reason = None

    return handovers.open(
        call_id=stream.call_id,
        call_sid=stream.call_sid,
        brief=brief,
        claim_call=claim_call,
        release_call=release_call,
    )


def learnt_patience(call: BuiltCall, settings: Settings) -> float:
    """The person's pause profile after this call (see `pipeline.turns.next_patience`)."""
    stop = call.turn_stop
    return next_patience(
        stop.patience,
        resumed_pauses=stop.resumed_pauses,
        cut_ins=stop.cut_ins,
        longest_wait=(settings.vad_stop_seconds + settings.turn_pause_incomplete_seconds)
        * stop.patience,
    )


def system_prompt(settings: Settings, brief: CallBrief = GENERIC_BRIEF) -> str:
    return prompts.system_prompt(
        bot_name=settings.bot_name,
        organization_name=settings.organization_name,
        name=brief.spoken_name,
        on_behalf_of=brief.on_behalf_of,
        notes=brief.notes,
        language=brief.language,
        memory=brief.memory,
    )


def greeting(settings: Settings, brief: CallBrief = GENERIC_BRIEF) -> list[str]:
    return prompts.greeting(
        bot_name=settings.bot_name,
        organization_name=settings.organization_name,
        name=brief.spoken_name,
        on_behalf_of=brief.on_behalf_of,
        language=brief.language,
    )


def screener_answer(settings: Settings, brief: CallBrief = GENERIC_BRIEF) -> str:
    return prompts.screener_answer(
        bot_name=settings.bot_name,
        organization_name=settings.organization_name,
        name=brief.spoken_name,
        language=brief.language,
    )


def voicemail_message(settings: Settings, brief: CallBrief = GENERIC_BRIEF) -> str:
    return prompts.voicemail_message(
        bot_name=settings.bot_name,
        organization_name=settings.organization_name,
        name=brief.spoken_name,
        on_behalf_of=brief.on_behalf_of,
        language=brief.language,
    )


async def converse(
    call: BuiltCall,
    call_id: int,
    *,
    writer: RecordWriter,
    bus: EventBus,
    ending: Ending,
    caller_hung_up: Callable[[], bool],
    log: Logger,
) -> None:
    """Run a built call, whatever its line, until it ends: the bot greets the person once they
    are connected; the recorder's last turns and the end reason (in `ending`) are written and
    published. A phone call and a talk in the browser both run here."""
    runner = WorkerRunner(handle_sigint=False, force_gc=False)

    @call.transport.event_handler("on_client_connected")
    async def _greet(_transport: object, _client: object) -> None:
        # The bot speaks first, and says it is automated and for whom it calls (unless an
        # answering machine's message is already being left).
        if ending.reason is None:
            await call.worker.queue_frames([TTSSpeakFrame(s) for s in call.greeting])

    @call.transport.event_handler("on_client_disconnected")
    async def _caller_left(_transport: object, _client: object) -> None:
        ending.reason = ending.reason or CALLER_HANGUP
        await call.worker.cancel(reason="caller hung up")

    await bus.publish(CallEvent("call.media", call_id, {"state": "connected"}))
    log.info("Conversation started")
    try:
        await runner.add_workers(call.worker)
        await runner.run()
    finally:
        call.recorder.finish()
        ending.reason = ending.reason or (CALLER_HANGUP if caller_hung_up() else STREAM_CLOSED)
        writer.submit(CallNote(call_id, end_reason=ending.reason, opted_out=ending.opted_out))
        await bus.publish(
            CallEvent("call.media", call_id, {"state": "ended", "reason": ending.reason})
        )
        log.info(f"Conversation ended ({ending.reason})")


async def _hang_up_quietly(twilio: TwilioGateway, call_sid: str) -> None:
    """Closing the stream already ends a `<Connect>` call; the REST hang-up makes it certain."""
    try:
        await twilio.end_call(call_sid)
    except (TwilioError, MissingConfiguration) as exc:
        logger.bind(call_sid=call_sid).warning(f"Could not hang up through Twilio: {exc}")
