"""Talking to the bot in the browser: a WebRTC offer in, its answer out, and the conversation
running on the same pipeline as a phone call (`bot.builder.browser_line`). The browser
channel of `calls.channels`: WebRTC is its transport, the offer and answer its handshake.

A talk is stored as a call with the channel `browser` (no number, no Twilio): in progress once
the browser's audio connects, completed when either side ends it. Its turns are recorded and
published like a phone call's, so the dashboard's call page follows it live. Red flags are
heard as in a phone call (`_care`): the reply gives the care advice, and the alert is shown on
Today and on the call's page; a talk is for no one on the roster, so no caregiver is texted.

ICE uses host candidates only, no STUN or TURN server: the browser and carecall must reach
each other directly (the same machine, or the same network).
"""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from carecall.bot.builder import CallCare, browser_line, build_call_worker
from carecall.bot.services import ServiceClients, build_call_services
from carecall.calls.channels import ChannelCalls
from carecall.calls.conversation import (
    ActiveCalls,
    Ending,
    RedFlagAlerts,
    converse,
    red_flag_alerter,
    system_prompt,
)
from carecall.calls.recorder import RecordWriter
from carecall.core.end_reasons import OPERATOR_HANGUP
from carecall.core.events import EventBus
from carecall.persistence.models import Call, CallChannel
from carecall.persistence.repositories import CallRepository
from carecall.settings import Settings

BROWSER_NUMBER = ""
"""A talk in the browser has no phone number."""
CONNECT_TIMEOUT_SECONDS = 30.0


class InvalidOffer(ValueError):
    """The browser's session description can't be answered."""


class BrowserCalls(ChannelCalls):
    """Starts and tracks the talks in the browser of this process."""

    channel = CallChannel.BROWSER

    def __init__(
        self,
        settings: Settings,
        calls: CallRepository,
        clients: ServiceClients,
        writer: RecordWriter,
        bus: EventBus,
        active: ActiveCalls,
        alerts: RedFlagAlerts | None,
    ) -> None:
        super().__init__(calls, bus)
        self._settings = settings
        self._alerts = alerts
        self._clients = clients
        self._writer = writer
        self._active = active

    async def start(self, sdp: str) -> tuple[Call, str]:
        """Answer the browser's offer ``sdp`` and start the conversation; returns the stored
        call and the answer's SDP. Raises `InvalidOffer`, or (before anything is stored)
        `settings.MissingConfiguration` / `bot.local_speech.LocalSpeechMissing`."""
        if not sdp.startswith("v=0") or "\nm=audio " not in sdp:
            raise InvalidOffer("This is not a WebRTC offer with audio (an SDP starting v=0).")
        services = build_call_services(
            self._settings, self._clients, system_prompt=system_prompt(self._settings)
        )
        connection = SmallWebRTCConnection(ice_servers=[])  # host candidates only
        try:
            await connection.initialize(sdp=sdp, type="offer")
        except Exception as exc:
            await connection.disconnect()
            raise InvalidOffer(f"The browser's WebRTC offer can't be answered: {exc}") from None
        answer = connection.get_answer()
        if answer is None:
            await connection.disconnect()
            raise InvalidOffer("The browser's WebRTC offer can't be answered.")
        call = await self.create(BROWSER_NUMBER, None)
        ending = Ending()
        built = build_call_worker(
            browser_line(connection),
            call_id=call.id,
            settings=self._settings,
            services=services,
            sink=self._writer,
            on_bot_ends_call=ending.bot_ends_call,
            care=self._care(call.id),
        )

        connected = asyncio.Event()

        @built.transport.event_handler("on_client_connected")
        async def _answered(_transport: object, _client: object) -> None:
            connected.set()
            await self.connected(call.id)

        log = logger.bind(call_id=call.id, channel="browser")

        async def give_up_unless_connected() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connected.wait(), CONNECT_TIMEOUT_SECONDS)
                return
            log.warning("The browser's audio never connected; ending the talk")
            await built.worker.cancel(reason="the browser never connected")

        async def talk() -> None:
            watchdog = asyncio.create_task(give_up_unless_connected())
            try:
                await converse(
                    built,
                    call.id,
                    writer=self._writer,
                    bus=self._bus,
                    ending=ending,
                    caller_hung_up=lambda: False,
                    log=log,
                )
            finally:
                watchdog.cancel()
                self._active.ended(call.id)
                await connection.disconnect()

        async def hang_up() -> None:
            ending.reason = ending.reason or OPERATOR_HANGUP
            await built.worker.cancel(reason="hung up from the dashboard")

        task = self.run(call.id, talk(), stop=hang_up, name=f"browser-call-{call.id}")
        self._active.started(call.id, task)
        log.info("A talk in the browser is connecting")
        return call, answer["sdp"]

    def _care(self, call_id: int) -> CallCare | None:
        """Red flags are heard in a talk as in a phone call: the reply gives the care advice
        and the alert is raised (on Today and the call's page). A talk is for no one on the
        roster, so there is no caregiver to text or to put the call through to."""
        if not self._settings.red_flags:
            return None
        return CallCare(red_flag_alerter(call_id, None, self._alerts), self._clients.red_flag_check)
