"""The long-lived objects of one server process, made in the lifespan and injected into routes;
and the shape of those that run in the background (`Service`)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine

from api.limits import PendingStreams
from api.rate_limit import ApiRateLimit
from auth.service import AuthService
from bot.services import ServiceClients
from calls.briefs import CallBriefs
from calls.browser import BrowserCalls
from calls.callback_backlog import CallbackBacklog
from calls.channels import ChannelCalls
from calls.conversation import ActiveCalls
from calls.demo import DemoCalls
from calls.reconcile import Reconciler
from calls.recorder import RecordWriter
from calls.service import CallService
from checkins.clock import Clock
from checkins.dispatcher import Dispatcher
from checkins.escalation import EscalationLadder
from observability.health import Readiness
from observability.metrics import Metrics
from persistence.checkins import CheckinRepository
from persistence.models import CallChannel
from persistence.privacy import PrivacyRepository
from persistence.repositories import CallRepository
from persistence.roster import SeniorRepository
from persistence.wellbeing import WellbeingRepository
from pipeline.events import EventBus, EventFeed
from settings import Settings
from telephony.security import CallTokens, TwilioSignatureChecker
from telephony.twilio_client import TwilioGateway
from wellbeing.alerts import AlertService
from wellbeing.jobs import RecordJobs
from wellbeing.retention import TranscriptRetention


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
