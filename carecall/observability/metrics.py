"""Prometheus metrics of one server instance, served at `/metrics` (text format).

- `carecall_active_calls`: conversations running in this process now.
- `carecall_turn_latency_seconds`: histogram, the caller stopped speaking → the bot's answer
  began (the assistant turns' `latency_ms`).
- `carecall_errors_total{kind}`: `call` (a call's pipeline reported an error), `twilio` (a Twilio
  REST request failed), `webhook_rejected` (a request to `/twilio/…` refused: bad signature).
- `carecall_calls_total{status}`: calls that reached a final status (completed, busy,
  no-answer, canceled, failed).
- `carecall_circuit_open{service}`: 1 while a service's circuit breaker is open or half-open
  (calls hear the fallback line without asking it), 0 while closed (`bot.circuit`).
- `carecall_dispatcher_lag_seconds`: how long the longest-waiting due check-in has been due
  (0: none). It is read from the database, the same on every instance: aggregate with `max`.

Counts are of what happened in *this* process: with Redis, the events of other instances are
heard here too (for the dashboard) but not counted, so summing over instances counts each once.
Every app has its own registry (tests make many apps in one process).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sized
from datetime import datetime
from typing import Protocol

from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carecall.core.events import CallEvent, EventBus
from carecall.persistence.models import Call, CallStatus, TurnRole

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ERROR_KINDS = ("call", "twilio", "webhook_rejected")
TURN_LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)
"""Seconds. Good conversation is under ~1 s; the buckets are finest there."""
LAG_QUERY_TIMEOUT_SECONDS = 1.0
_REMEMBERED_FINAL_CALLS = 10_000


class Circuit(Protocol):
    """What the circuit gauge needs of a breaker (`bot.circuit.CircuitBreaker`)."""

    @property
    def service(self) -> str: ...

    @property
    def is_closed(self) -> bool: ...


class DueCheckins(Protocol):
    """What the lag gauge needs of the check-in repository (`persistence.checkins`)."""

    async def oldest_due(self, now: datetime) -> datetime | None: ...


class Metrics:
    """The registry and its series; fed by the bus (`watch`), the call service's final
    statuses (`call_final`), Twilio errors (`twilio_error`) and the webhook middleware."""

    def __init__(
        self,
        active_calls: Sized,
        checkins: DueCheckins | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self._checkins = checkins
        self._now = now
        self.active_calls = Gauge(
            "carecall_active_calls",
            "Conversations running in this process now.",
            registry=self.registry,
        )
        self.active_calls.set_function(lambda: len(active_calls))
        self.turn_latency = Histogram(
            "carecall_turn_latency_seconds",
            "From the end of the caller's turn to the start of the bot's answer.",
            buckets=TURN_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "carecall_errors",
            "Errors by kind: call (a call's pipeline), twilio (a REST request), "
            "webhook_rejected (a Twilio webhook refused).",
            ["kind"],
            registry=self.registry,
        )
        self.calls = Counter(
            "carecall_calls",
            "Calls that reached a final status, by status.",
            ["status"],
            registry=self.registry,
        )
        self.dispatcher_lag = Gauge(
            "carecall_dispatcher_lag_seconds",
            "How long the longest-waiting due check-in has been due (0: none is due).",
            registry=self.registry,
        )
        for kind in ERROR_KINDS:
            self.errors.labels(kind)
        for status in CallStatus:
            if status.is_final:
                self.calls.labels(status.value)
        self._counted_final: OrderedDict[int, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._stack = contextlib.AsyncExitStack()

    def watch_circuits(self, circuits: Iterable[Circuit]) -> None:
        """Serve each breaker's state as `carecall_circuit_open{service}` (read when scraped)."""
        gauge = Gauge(
            "carecall_circuit_open",
            "1 while a service's circuit is open or half-open (callers hear the fallback line).",
            ["service"],
            registry=self.registry,
        )
        for circuit in circuits:
            gauge.labels(circuit.service).set_function(_is_open(circuit))

    # --- feeding ------------------------------------------------------------------------------

    async def watch(self, bus: EventBus) -> None:
        """Count what this process publishes on `bus` from now on."""
        events = await self._stack.enter_async_context(bus.subscribe())
        self._task = asyncio.create_task(self._read(events), name="metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stack.aclose()

    def observe(self, event: CallEvent) -> None:
        if event.kind == "call.error":
            self.errors.labels("call").inc()
        elif event.kind == "call.turn" and event.data.get("role") == TurnRole.ASSISTANT.value:
            latency_ms = event.data.get("latency_ms")
            if isinstance(latency_ms, int | float) and latency_ms >= 0:
                self.turn_latency.observe(latency_ms / 1000)

    async def call_final(self, call: Call) -> None:
        """A call reached its final status (`CallService.on_call_final`); counted once even if
        told again (a late callback adding the duration)."""
        if call.id in self._counted_final:
            return
        self._counted_final[call.id] = None
        if len(self._counted_final) > _REMEMBERED_FINAL_CALLS:
            self._counted_final.popitem(last=False)
        self.calls.labels(call.status.value).inc()

    def twilio_error(self, _error: Exception) -> None:
        self.errors.labels("twilio").inc()

    # --- reading ------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read what is read at scrape time (the dispatcher's lag), within a short timeout: a
        slow database leaves the last value rather than holding the scrape."""
        if self._checkins is None or self._now is None:
            return
        now = self._now()
        try:
            oldest = await asyncio.wait_for(
                self._checkins.oldest_due(now), LAG_QUERY_TIMEOUT_SECONDS
            )
        except Exception as exc:
            logger.warning(f"Could not read the dispatcher's lag for /metrics ({exc!r})")
            return
        self.dispatcher_lag.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def _read(self, events: AsyncIterator[CallEvent]) -> None:
        async for event in events:
            try:
                self.observe(event)
            except Exception:
                logger.exception("Could not count a call event")


class CountWebhookRejections:
    """ASGI middleware: each `/twilio/…` request answered 403 (bad or missing signature) adds
    one to `carecall_errors_total{kind="webhook_rejected"}`. Finds the app's `Metrics` as
    `app.state.carecall.metrics` (made in the lifespan, after the middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/twilio/"):
            await self.app(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 403:
                state = getattr(scope["app"].state, "carecall", None)
                metrics: Metrics | None = getattr(state, "metrics", None)
                if metrics is not None:
                    metrics.errors.labels("webhook_rejected").inc()
            await send(message)

        await self.app(scope, receive, counting)


def _is_open(circuit: Circuit) -> Callable[[], float]:
    return lambda: 0.0 if circuit.is_closed else 1.0
