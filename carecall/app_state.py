"""The long-lived objects of one server process, made in the lifespan and injected into routes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.api.limits import PendingStreams
from carecall.api.rate_limit import ApiRateLimit
from carecall.auth.service import AuthService
from carecall.bot.services import ServiceClients
from carecall.calls.briefs import CallBriefs
from carecall.calls.browser import BrowserCalls
from carecall.calls.callback_backlog import CallbackBacklog
from carecall.calls.conversation import ActiveCalls
from carecall.calls.demo import DemoCalls
from carecall.calls.reconcile import Reconciler
from carecall.calls.recorder import RecordWriter
from carecall.calls.service import CallService
from carecall.checkins.dispatcher import Dispatcher
from carecall.checkins.escalation import EscalationLadder
from carecall.core.clock import Clock
from carecall.core.events import EventBus, EventFeed
from carecall.observability.health import Readiness
from carecall.observability.metrics import Metrics
from carecall.persistence.checkins import CheckinRepository
from carecall.persistence.privacy import PrivacyRepository
from carecall.persistence.repositories import CallRepository
from carecall.persistence.roster import SeniorRepository
from carecall.persistence.wellbeing import WellbeingRepository
from carecall.settings import Settings
from carecall.telephony.security import CallTokens, TwilioSignatureChecker
from carecall.telephony.twilio_client import TwilioGateway
from carecall.wellbeing.alerts import AlertService
from carecall.wellbeing.jobs import RecordJobs
from carecall.wellbeing.retention import TranscriptRetention


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


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.carecall
    return state


def get_ws_state(websocket: WebSocket) -> AppState:
    state: AppState = websocket.app.state.carecall
    return state
