"""The carecall server: `uvicorn server:app`.

`create_app` builds the FastAPI app; its lifespan applies migrations and makes the long-lived
objects (engine, event bus, record writer, Twilio gateway, service HTTP pool) once per process.
Each is entered in one `AsyncExitStack` as it starts (`_start`), so shutdown, or a failure
anywhere in start-up, stops and closes what has started, in the reverse order.
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from loguru import logger
from sqlalchemy.exc import DBAPIError
from starlette.middleware.sessions import SessionMiddleware
from twilio.http.async_http_client import AsyncHttpClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from carecall.api import alerts as alerts_api
from carecall.api import calls as calls_api
from carecall.api import dashboard_ws, twilio_handover, twilio_messages, twilio_webhooks
from carecall.api import demo as demo_api
from carecall.api import escalations as escalations_api
from carecall.api import health as health_api
from carecall.api import media as media_api
from carecall.api import reports as reports_api
from carecall.api import seniors as seniors_api
from carecall.api import webrtc as webrtc_api
from carecall.api.limits import BodySizeLimit, PendingStreams, WebSocketMessageLimit
from carecall.api.openapi import document_errors
from carecall.api.rate_limit import ApiRateLimit
from carecall.api.security_headers import SecurityHeaders
from carecall.api.validation import readable_validation_error
from carecall.app_state import AppState, start_service
from carecall.auth.dependencies import LoginRequired, api_principal, login_redirect_url
from carecall.auth.service import AuthService
from carecall.bot.services import ServiceClients
from carecall.calls.briefs import CallBriefs
from carecall.calls.browser import BrowserCalls
from carecall.calls.callback_backlog import CallbackBacklog
from carecall.calls.conversation import ActiveCalls
from carecall.calls.demo import DemoCalls, DemoTokens
from carecall.calls.handover import HandoverDesk
from carecall.calls.reconcile import Reconciler
from carecall.calls.recorder import RecordWriter
from carecall.calls.recordings import CallRecordings
from carecall.calls.service import CallService
from carecall.calls.shutdown import GracefulShutdown
from carecall.checkins.dispatcher import Dispatcher
from carecall.checkins.escalation import EscalationLadder
from carecall.core.clock import Clock, SystemClock
from carecall.core.events import EventBus, EventFeed, InProcessEventBus
from carecall.core.phones import mask_phone_number
from carecall.observability.health import Readiness
from carecall.observability.metrics import CountWebhookRejections, Metrics
from carecall.observability.outages import database_watch
from carecall.persistence.accounts import ApiKeyRepository, OperatorRepository
from carecall.persistence.alerts import AlertRepository
from carecall.persistence.checkins import CheckinRepository
from carecall.persistence.database import (
    create_engine,
    create_session_factory,
    database_unreachable,
)
from carecall.persistence.escalations import EscalationRepository
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.models import Call
from carecall.persistence.privacy import PrivacyRepository
from carecall.persistence.recordings import RecordingFiles, RecordingRepository
from carecall.persistence.repositories import CallRepository
from carecall.persistence.roster import SeniorRepository
from carecall.persistence.wellbeing import WellbeingRepository
from carecall.pipeline.redis_bus import RedisEventBus
from carecall.settings import Settings
from carecall.telephony.security import CallTokens, TwilioSignatureChecker
from carecall.telephony.twilio_client import TwilioGateway
from carecall.web import (
    alert_pages,
    api_docs,
    api_keys_page,
    auth_pages,
    pages,
    people_pages,
    reports_page,
)
from carecall.web.templating import mount_static
from carecall.wellbeing.alerts import AlertService
from carecall.wellbeing.jobs import RecordJobs
from carecall.wellbeing.retention import TranscriptRetention

if TYPE_CHECKING:
    from loguru import Record

MAX_BODY_BYTES = 64 * 1024
MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024
SESSION_MAX_AGE_SECONDS = 12 * 3600
CREATE_ADMIN_COMMAND = "./scripts/carecall create-admin"
"""What the log tells a new user to run: the wrapper finds uv even where it is not on PATH
(pip's user folder), where a bare `uv run carecall …` fails with "uv: command not found"."""


_PHONE_NUMBER = re.compile(r"\+\d{6,15}")
_LOG_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{name}</cyan> | <level>{message}</level>{extra[context]}"
)


def _scrub(record: Record) -> None:
    """Mask phone numbers in every log line (ours and libraries'), and show bound context."""
    record["message"] = _PHONE_NUMBER.sub(lambda m: mask_phone_number(m.group()), record["message"])
    bound = {k: v for k, v in record["extra"].items() if k != "context"}
    record["extra"]["context"] = "".join(f" {k}={v}" for k, v in bound.items())


def configure_logging(level: str) -> None:
    logger.remove()
    logger.configure(patcher=_scrub)
    logger.add(
        sys.stderr,
        level=level.upper(),
        format=_LOG_FORMAT,
        backtrace=False,
        diagnose=False,
    )


def create_app(
    settings: Settings | None = None,
    *,
    twilio_http_client: AsyncHttpClient | None = None,
    event_bus: EventBus | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.carecall = await _start(
                stack, settings, clock, twilio_http_client=twilio_http_client, event_bus=event_bus
            )
            yield

    # `/docs` is carecall's own page (`web.api_docs`: Swagger UI served from here, no CDN).
    app = FastAPI(
        title="carecall", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.include_router(calls_api.router, dependencies=[Depends(api_principal)])
    app.include_router(seniors_api.router, dependencies=[Depends(api_principal)])
    app.include_router(webrtc_api.router, dependencies=[Depends(api_principal)])
    app.include_router(demo_api.router, dependencies=[Depends(api_principal)])
    app.include_router(auth_pages.router)
    app.include_router(pages.router)
    app.include_router(people_pages.router)
    app.include_router(alert_pages.router)
    app.include_router(reports_page.router)
    app.include_router(api_keys_page.router)
    app.include_router(api_docs.router)
    app.include_router(dashboard_ws.router)
    app.include_router(health_api.router)
    app.include_router(escalations_api.router, dependencies=[Depends(api_principal)])
    app.include_router(alerts_api.router, dependencies=[Depends(api_principal)])
    app.include_router(reports_api.router, dependencies=[Depends(api_principal)])
    app.include_router(twilio_webhooks.router)
    app.include_router(twilio_messages.router)
    app.include_router(twilio_handover.router)
    app.include_router(media_api.router)
    app.include_router(demo_api.stream_router)
    document_errors(app)

    app.add_exception_handler(RequestValidationError, readable_validation_error)  # type: ignore[arg-type]

    @app.exception_handler(seniors_api.RosterRefused)
    async def _roster_refused(_request: Request, exc: seniors_api.RosterRefused) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail, "errors": exc.errors}
        )

    @app.exception_handler(DBAPIError)
    @app.exception_handler(ConnectionError)
    async def _database_unreachable(request: Request, exc: Exception) -> JSONResponse:
        """The database is away (restarted, unreachable): 503, and a line that says so,
        rather than a 500 with a traceback. (Twilio's status and answering-machine
        callbacks, which Twilio does not retry, are kept and written once it is back:
        `calls.callback_backlog`.)"""
        if not database_unreachable(exc):
            raise exc
        logger.warning(
            f"{request.method} {request.url.path}: the database is unreachable "
            f"({type(exc).__name__}); answered 503"
        )
        return JSONResponse(
            status_code=503,
            content={"detail": "The database can't be reached right now. Try again shortly."},
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(LoginRequired)
    async def _to_login(_request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(login_redirect_url(exc.next_path), status_code=303)

    mount_static(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie="carecall_session",
        max_age=SESSION_MAX_AGE_SECONDS,
        same_site="lax",
        https_only=settings.carecall_env == "production",
    )
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(WebSocketMessageLimit, max_bytes=MAX_WEBSOCKET_MESSAGE_BYTES)
    app.add_middleware(CountWebhookRejections)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


async def _start(
    stack: AsyncExitStack,
    settings: Settings,
    clock: Clock,
    *,
    twilio_http_client: AsyncHttpClient | None,
    event_bus: EventBus | None,
) -> AppState:
    """Make the process's long-lived objects and start its services, each entered in `stack`
    as it starts: unwinding the stack (at shutdown, or when anything here fails) stops and
    closes what has started, in the reverse order."""
    engine = create_engine(settings.database_url)
    stack.push_async_callback(engine.dispose)
    await upgrade_to_head(engine)
    sessions = create_session_factory(engine)
    calls = CallRepository(sessions)
    recording_files = RecordingFiles(settings.recordings_dir)  # made with its first file
    recordings = RecordingRepository(sessions, recording_files)
    seniors = SeniorRepository(sessions, recording_files)
    checkins = CheckinRepository(sessions)
    wellbeing = WellbeingRepository(sessions)
    privacy = PrivacyRepository(sessions)
    # One watch for the whole process: an outage is logged once, however many workers meet it.
    database = database_watch()
    service_clients = ServiceClients(settings)
    stack.push_async_callback(service_clients.aclose)
    service_clients.prepare_speech_soon()

    redis_bus = _redis_bus(settings) if event_bus is None else None
    if redis_bus is not None:
        await start_service(stack, redis_bus)
    bus = event_bus or redis_bus or InProcessEventBus()
    active_calls = ActiveCalls()
    metrics = Metrics(active_calls, checkins, clock.now)
    stack.push_async_callback(metrics.stop)
    # Each instance counts what happens in it (Redis brings the others' events too).
    await metrics.watch(bus.own_events if isinstance(bus, RedisEventBus) else bus)
    metrics.watch_circuits(service_clients.breakers)
    feed = EventFeed(bus)
    await start_service(stack, feed)
    writer = RecordWriter(calls, bus, seniors, database=database, recordings=recordings)
    await start_service(stack, writer)
    # Stopped before the writer: the last calls' recordings are finished and their ends stored.
    call_recordings = CallRecordings(settings, recording_files, writer)
    await start_service(stack, call_recordings)

    twilio = TwilioGateway(settings, twilio_http_client)
    twilio.on_error(metrics.twilio_error)
    tokens = CallTokens(settings.session_secret.get_secret_value())
    call_service = CallService(
        settings,
        calls,
        twilio,
        tokens,
        bus,
        seniors=seniors,
        clock=clock,
        before_answer=lambda _call, language: service_clients.prepare_speech_soon(
            language=language
        ),
    )
    escalations = EscalationLadder(settings, EscalationRepository(sessions), twilio, clock, bus)
    dispatcher = Dispatcher(
        settings, checkins, call_service, clock, bus, escalations, database=database
    )
    record_jobs = RecordJobs(settings, wellbeing, clock, database=database)
    record_jobs.attach(call_service)
    alerts = AlertService(settings, AlertRepository(sessions), twilio, clock, bus)
    stack.push_async_callback(alerts.aclose)
    record_jobs.on_record_made(alerts.record_made)
    call_service.on_call_final(metrics.call_final)
    browser_calls = BrowserCalls(
        settings, calls, service_clients, writer, bus, active_calls, alerts
    )
    stack.push_async_callback(browser_calls.aclose)
    demo_calls = DemoCalls(calls, bus, DemoTokens(settings.session_secret.get_secret_value()))
    stack.push_async_callback(demo_calls.aclose)
    callback_backlog = CallbackBacklog(database=database)
    stack.push_async_callback(callback_backlog.aclose)
    handovers = HandoverDesk(settings, twilio, writer.submit, bus)
    await start_service(stack, handovers)
    auth_token = settings.twilio_auth_token
    state = AppState(
        settings=settings,
        engine=engine,
        calls=calls,
        bus=bus,
        feed=feed,
        writer=writer,
        twilio=twilio,
        tokens=tokens,
        signatures=TwilioSignatureChecker(
            auth_token.get_secret_value() if auth_token else None, settings.webhook_url
        ),
        call_service=call_service,
        service_clients=service_clients,
        active_calls=active_calls,
        browser_calls=browser_calls,
        demo_calls=demo_calls,
        auth=AuthService(
            OperatorRepository(sessions),
            ApiKeyRepository(sessions),
            session_idle=timedelta(minutes=settings.session_idle_minutes),
            now=clock.now,
        ),
        seniors=seniors,
        clock=clock,
        escalations=escalations,
        briefs=CallBriefs(calls, seniors, wellbeing),
        checkins=checkins,
        dispatcher=dispatcher,
        metrics=metrics,
        readiness=Readiness(engine, bus.ping if isinstance(bus, RedisEventBus) else None),
        wellbeing=wellbeing,
        record_jobs=record_jobs,
        alerts=alerts,
        reconciler=Reconciler(
            settings,
            calls,
            call_service,
            twilio,
            clock,
            active_calls.by_call_id,
            database=database,
        ),
        callback_backlog=callback_backlog,
        privacy=privacy,
        retention=TranscriptRetention(
            settings, privacy, clock, database=database, recordings=recordings
        ),
        recordings=recordings,
        call_recordings=call_recordings,
        api_rate_limit=ApiRateLimit(settings.api_rate_limit_per_minute),
        pending_streams=PendingStreams(settings.max_pending_media_streams),
        handovers=handovers,
    )
    call_service.on_call_final(lambda call: _forget_brief(state.briefs, call))
    await _announce(state)
    # Everything made so far (modules, settings, pools) lives as long as the process.
    # Frozen, the garbage collector's full passes skip it: otherwise one pass over this
    # heap stalls the event loop, and every call's audio, for ~0.2 s.
    gc.collect()
    gc.freeze()

    await start_service(stack, record_jobs, run=settings.record_worker_enabled)
    await start_service(stack, dispatcher, run=settings.dispatcher_enabled)
    await start_service(stack, state.retention)
    await start_service(stack, state.reconciler, run=settings.reconcile_calls)
    # On SIGTERM the instance drains first: no new calls, running calls end (politely),
    # records stored; then uvicorn stops (`calls.shutdown`). Its stop, the first at shutdown,
    # marks the instance as shutting down before the rest stops.
    shutdown = GracefulShutdown(
        readiness=state.readiness,
        active_calls=active_calls,
        writer=writer,
        grace=settings.shutdown_grace_seconds,
        stop_taking_work=dispatcher.stop_claiming,
    )
    await start_service(stack, shutdown)
    return state


def _redis_bus(settings: Settings) -> RedisEventBus | None:
    """With REDIS_URL, the bus shared by every instance; else None (events stay in-process)."""
    if settings.redis_url is None:
        return None
    return RedisEventBus(settings.redis_url.get_secret_value(), channel=settings.redis_channel)


async def _forget_brief(briefs: CallBriefs, call: Call) -> None:
    """A call whose media stream never opened here leaves its brief until Twilio's final
    status."""
    briefs.forget(call.id)


async def _announce(state: AppState) -> None:
    settings = state.settings
    logger.info(f"Calls' speech and language services: {state.service_clients.describe()}")
    if (secret_warning := settings.session_secret_warning()) is not None:
        logger.warning(secret_warning)
    if await state.auth.needs_setup():
        logger.warning(
            "No operator account yet. Create the first one in the browser at "
            f"/setup?code={state.auth.setup_code} on this server (e.g. "
            f"http://127.0.0.1:8000/setup?code={state.auth.setup_code}), or in another "
            "terminal, in carecall's folder:\n"
            f"    {CREATE_ADMIN_COMMAND} --email you@example.org --password '<a long password>'"
        )
    missing = settings.missing_for_calls()
    if missing:
        logger.warning(
            "carecall is running, but can't place phone calls until these are set "
            f"(in the environment or .env): {', '.join(missing)}"
        )
    else:
        logger.info(
            f"carecall is ready to place calls; Twilio webhooks go to {settings.webhook_url}"
        )


app = create_app()
