"""The long-lived objects of one server process, made in the lifespan and injected into routes;
and the shape of those that run in the background (`Service`)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.api.limits import PendingStreams
from carecall.api.rate_limit import ApiRateLimit
from carecall.auth.service import AuthService
from carecall.bot.services import ServiceClients
from carecall.calls.briefs import CallBriefs
from carecall.calls.browser import BrowserCalls
from carecall.calls.callback_backlog import CallbackBacklog
from carecall.calls.channels import ChannelCalls
from carecall.calls.conversation import ActiveCalls
from carecall.calls.demo import DemoCalls
from carecall.calls.handover import HandoverDesk
from carecall.calls.reconcile import Reconciler
from carecall.calls.recorder import RecordWriter
from carecall.calls.recordings import CallRecordings
from carecall.calls.service import CallService
from carecall.checkins.dispatcher import Dispatcher
from carecall.checkins.escalation import EscalationLadder
from carecall.core.clock import Clock
from carecall.core.events import EventBus, EventFeed
from carecall.observability.health import Readiness
from carecall.observability.metrics import Metrics
from carecall.persistence.checkins import CheckinRepository
from carecall.persistence.models import CallChannel
from carecall.persistence.privacy import PrivacyRepository
from carecall.persistence.recordings import RecordingRepository
from carecall.persistence.repositories import CallRepository
from carecall.persistence.roster import SeniorRepository
from carecall.persistence.wellbeing import WellbeingRepository
from carecall.settings import Settings
from carecall.telephony.security import CallTokens, TwilioSignatureChecker
from carecall.telephony.twilio_client import TwilioGateway
from carecall.wellbeing.alerts import AlertService
from carecall.wellbeing.jobs import RecordJobs
from carecall.wellbeing.retention import TranscriptRetention


class Service(Protocol):
    """A part of the server that runs in the background from start-up to shutdown (the event
    bus, the record writer, the check-in dispatcher, …). `stop` undoes whatever `start` did,
    and does nothing for a service that never started."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def start_service(stack: AsyncExitStack, service: Service, *, run: bool = True) -> None:
    """Start `service`, to be stopped when `stack` unwinds: at shutdown, or at once if a later
    service fails to start, in the reverse order of starting. Its stop is registered before it
    starts, so that a start that fails half-way leaves nothing of it running. With `run` False
    it is not started (the work is left to other instances, or a test runs it by hand) but it
    is stopped all the same, which closes what it holds."""
    stack.push_async_callback(service.stop)
    if run:
        await service.start()


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    calls: CallRepository
    bus: EventBus
    feed: EventFeed
    writer: RecordWriter
    twilio: TwilioGateway
    tokens: CallTokens
    signatures: TwilioSignatureChecker
    call_service: CallService
    service_clients: ServiceClients
    active_calls: ActiveCalls
    browser_calls: BrowserCalls
    demo_calls: DemoCalls
    auth: AuthService
    seniors: SeniorRepository
    clock: Clock
    escalations: EscalationLadder
    briefs: CallBriefs
    checkins: CheckinRepository
    dispatcher: Dispatcher
    metrics: Metrics
    readiness: Readiness
    reconciler: Reconciler
    callback_backlog: CallbackBacklog
    privacy: PrivacyRepository
    retention: TranscriptRetention
    wellbeing: WellbeingRepository
    record_jobs: RecordJobs
    alerts: AlertService
    api_rate_limit: ApiRateLimit
    pending_streams: PendingStreams
    handovers: HandoverDesk
    recordings: RecordingRepository
    call_recordings: CallRecordings

    def channel(self, channel: CallChannel) -> ChannelCalls:
        """The calls of ``channel`` in this process (their lifecycle: `calls.channels`)."""
        channels: dict[CallChannel, ChannelCalls] = {
            CallChannel.PHONE: self.call_service,
            CallChannel.BROWSER: self.browser_calls,
            CallChannel.DEMO: self.demo_calls,
        }
        return channels[channel]


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.carecall
    return state


def get_ws_state(websocket: WebSocket) -> AppState:
    state: AppState = websocket.app.state.carecall
    return state
