"""Service faults: retries with backoff and jitter inside a time budget, and a circuit breaker.

`CircuitBreaker` is shared by every call of a server process, one per service (speech-to-text,
the model, text-to-speech). After `threshold` failures in a row it *opens* for `cooldown`
seconds: requests then fail at once (`CircuitOpen`) instead of making a caller wait on a
service that is down, and the caller hears the fallback line straight away (its audio is
cached). After the cool-down one request at a time is let through as a trial (*half-open*):
a success closes the circuit, a failure opens it for another cool-down. Each change of state
is logged once, not once per call.

`call_with_retries` runs one request with retries where they are safe (the request had no
effect the caller could notice: nothing was said yet), backing off with jitter, and never past
its deadline: in a call the whole budget must fit within the caller's patience.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from enum import StrEnum
from typing import TypeVar

import httpx
import httpx2  # the OpenAI client's own HTTP library (text-to-speech streams through it)
from loguru import logger
from openai import APIConnectionError, APIStatusError, APITimeoutError

T = TypeVar("T")

IN_CALL_BUDGET_SECONDS = 2.0
"""How long one in-call request (all its tries together) may take, by default: under the reply
deadline (`processors.service_fallback`), so a hung service is a failure the breaker counts
before the reply clock cuts in (`bot.services.in_call_budget`)."""
MAX_ATTEMPTS = 3
BASE_DELAY_SECONDS = 0.1
MIN_ATTEMPT_SECONDS = 0.3
"""A retry that would have less time than this left is not made."""


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitOpen(Exception):
    """The service failed repeatedly; requests are not sent until its cool-down is over."""

    def __init__(self, service: str, retry_in: float) -> None:
        super().__init__(
            f"{service} is failing; not trying it again for {max(retry_in, 0):.0f} s (circuit open)"
        )
        self.service = service


class CircuitBreaker:
    """Counts one service's consecutive failures across all calls (see the module docstring).

    Not locked: the event loop runs one coroutine at a time, and every method is synchronous."""

    def __init__(
        self,
        service: str,
        *,
        threshold: int = 5,
        cooldown: float = 15.0,
        budget: float = IN_CALL_BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.budget = budget
        """How long one request to this service may take in a call, all its tries together."""
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = CircuitState.CLOSED
        self._trial_in_flight = False

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.cooldown:
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def is_closed(self) -> bool:
        return self.state is CircuitState.CLOSED

    def trial_in(self) -> float:
        """Seconds until an open circuit lets a trial request through (0: it would now)."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown - self._clock())

    def before_request(self) -> None:
        """Raises `CircuitOpen` while the circuit is open, or while a trial request is out."""
        state = self.state
        if state is CircuitState.CLOSED:
            return
        if state is CircuitState.HALF_OPEN and not self._trial_in_flight:
            if self._state is not CircuitState.HALF_OPEN:
                self._change(CircuitState.HALF_OPEN)
            self._trial_in_flight = True
            return
        raise CircuitOpen(self.service, self._opened_at + self.cooldown - self._clock())

    def record_success(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        if self._state is not CircuitState.CLOSED:
            self._change(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        trial_failed = self._trial_in_flight
        self._trial_in_flight = False
        if trial_failed or (
            self._state is CircuitState.CLOSED and self._failures >= self.threshold
        ):
            self._opened_at = self._clock()
            self._change(CircuitState.OPEN)

    def record_abandoned(self) -> None:
        """The request was cancelled (the caller spoke, the call ended): no verdict."""
        self._trial_in_flight = False

    def _change(self, state: CircuitState) -> None:
        self._state = state
        if state is CircuitState.OPEN:
            logger.error(
                f"{self.service}: circuit open after {self._failures} failures in a row; "
                f"callers hear the fallback line for {self.cooldown:.0f} s, then one trial"
            )
        elif state is CircuitState.HALF_OPEN:
            logger.warning(f"{self.service}: circuit half-open, one trial request")
        else:
            logger.info(f"{self.service}: circuit closed, the service answers again")


class ServiceBreakers:
    """The breakers of one server process, per service."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 15.0,
        budget: float = IN_CALL_BUDGET_SECONDS,
    ) -> None:
        def breaker(service: str) -> CircuitBreaker:
            return CircuitBreaker(service, threshold=threshold, cooldown=cooldown, budget=budget)

        self.stt = breaker("speech-to-text")
        self.llm = breaker("language model")
        self.tts = breaker("text-to-speech")

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter((self.stt, self.llm, self.tts))


def is_retryable(exc: BaseException) -> bool:
    """Worth another try: rate limits, server errors, timeouts, connection failures."""
    if isinstance(exc, APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    if isinstance(exc, httpx.HTTPStatusError | httpx2.HTTPStatusError):
        status = exc.response.status_code
        return status in (408, 409, 429) or status >= 500
    return isinstance(
        exc,
        APIConnectionError
        | APITimeoutError
        | TimeoutError
        | httpx.TransportError
        | httpx2.TransportError,
    )


def backoff_delay(attempt: int, base: float = BASE_DELAY_SECONDS) -> float:
    """Exponential backoff with full jitter ("attempt" counts from 1: the try that failed)."""
    return random.uniform(base, base * 2**attempt)


async def call_with_retries(
    breaker: CircuitBreaker,
    request: Callable[[float], Awaitable[T]],
    *,
    budget: float = IN_CALL_BUDGET_SECONDS,
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """``await request(time_left)`` until it succeeds, within ``budget`` seconds in all.

    Each try is bounded by the time left; a failure that is not worth retrying, the last try,
    or too little time left raises the last error. `CircuitOpen` is raised at once, with no
    request, while the breaker is open."""
    deadline = time.monotonic() + budget
    for attempt in range(1, attempts + 1):
        breaker.before_request()
        left = deadline - time.monotonic()
        try:
            result = await asyncio.wait_for(request(left), timeout=left)
        except asyncio.CancelledError:
            breaker.record_abandoned()
            raise
        except Exception as exc:
            if not is_retryable(exc):
                breaker.record_abandoned()  # our request was refused: the service is up
                raise
            breaker.record_failure()
            delay = backoff_delay(attempt)
            if attempt == attempts or deadline - time.monotonic() - delay < MIN_ATTEMPT_SECONDS:
                if isinstance(exc, TimeoutError) and not str(exc):
                    raise TimeoutError(
                        f"{breaker.service} gave no answer within {budget:.1f} s"
                    ) from exc
                raise
            logger.warning(f"{breaker.service} failed ({exc!r}); retry in {delay:.2f} s")
            await asyncio.sleep(delay)
            continue
        breaker.record_success()
        return result
    raise AssertionError("unreachable")
