"""The circuit breaker and in-call retries (`bot.circuit`)."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest
from openai import APIStatusError, BadRequestError

from carecall.bot.circuit import (
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    backoff_delay,
    call_with_retries,
    is_retryable,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _status_error(status: int) -> APIStatusError:
    response = httpx2.Response(status, request=httpx2.Request("POST", "http://fake/v1/x"))
    if status == 400:
        return BadRequestError("bad", response=response, body=None)
    return APIStatusError("failed", response=response, body=None)


def test_opens_after_threshold_failures_in_a_row() -> None:
    breaker = CircuitBreaker("model", threshold=3, cooldown=10, clock=FakeClock())
    for _ in range(2):
        breaker.before_request()
        breaker.record_failure()
    breaker.before_request()
    breaker.record_success()  # a success in between starts the count again
    for _ in range(2):
        breaker.before_request()
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.before_request()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen, match="model is failing"):
        breaker.before_request()


def test_half_open_lets_one_trial_through_and_a_success_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("voice", threshold=1, cooldown=10, clock=clock)
    breaker.record_failure()
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        breaker.before_request()
    clock.now += 0.1
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.before_request()  # the trial
    with pytest.raises(CircuitOpen):
        breaker.before_request()  # a second caller does not wait on the trial
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    breaker.before_request()


def test_a_failed_trial_opens_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("voice", threshold=2, cooldown=10, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 10
    breaker.before_request()
    breaker.record_failure()  # one failure is enough in half-open
    assert breaker.state is CircuitState.OPEN
    clock.now += 9
    with pytest.raises(CircuitOpen):
        breaker.before_request()
    clock.now += 1
    assert breaker.state is CircuitState.HALF_OPEN


def test_an_abandoned_trial_lets_the_next_request_try() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("voice", threshold=1, cooldown=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    breaker.before_request()
    breaker.record_abandoned()
    breaker.before_request()
    assert breaker.state is CircuitState.HALF_OPEN


def test_state_changes_are_logged_once() -> None:
    from loguru import logger

    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), format="{message}")
    try:
        clock = FakeClock()
        breaker = CircuitBreaker("model", threshold=2, cooldown=5, clock=clock)
        for _ in range(6):  # many calls fail while it is open: one line
            try:
                breaker.before_request()
            except CircuitOpen:
                continue
            breaker.record_failure()
        clock.now += 5
        breaker.before_request()
        breaker.record_success()
        breaker.record_success()
    finally:
        logger.remove(sink)
    circuit_lines = [m for m in messages if "circuit" in m]
    assert len(circuit_lines) == 3
    assert "open" in circuit_lines[0] and "half-open" in circuit_lines[1]
    assert "closed" in circuit_lines[2]


def test_what_is_worth_a_retry() -> None:
    assert is_retryable(_status_error(500))
    assert is_retryable(_status_error(429))
    assert is_retryable(TimeoutError())
    assert not is_retryable(_status_error(400))
    assert not is_retryable(ValueError("bug"))


def test_backoff_grows_with_jitter() -> None:
    first = [backoff_delay(1, base=0.1) for _ in range(200)]
    third = [backoff_delay(3, base=0.1) for _ in range(200)]
    assert all(0.1 <= d <= 0.2 for d in first) and len(set(first)) > 100
    assert all(0.1 <= d <= 0.8 for d in third) and max(third) > 0.4


async def test_retries_a_server_error_then_succeeds() -> None:
    breaker = CircuitBreaker("model", threshold=5)
    calls = 0

    async def request(_left: float) -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise _status_error(503)
        return "ok"

    assert await call_with_retries(breaker, request, budget=2.0) == "ok"
    assert calls == 3 and breaker.state is CircuitState.CLOSED


async def test_a_refused_request_is_not_retried_nor_counted() -> None:
    breaker = CircuitBreaker("model", threshold=1)
    calls = 0

    async def request(_left: float) -> str:
        nonlocal calls
        calls += 1
        raise _status_error(400)

    with pytest.raises(BadRequestError):
        await call_with_retries(breaker, request)
    assert calls == 1 and breaker.state is CircuitState.CLOSED


async def test_a_hang_is_cut_at_the_budget_and_counted() -> None:
    breaker = CircuitBreaker("voice", threshold=1)
    started = time.monotonic()

    async def request(_left: float) -> str:
        await asyncio.sleep(30)
        return "never"

    with pytest.raises(TimeoutError):
        await call_with_retries(breaker, request, budget=0.4)
    assert time.monotonic() - started < 0.6
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen):  # the next request does not wait at all
        await call_with_retries(breaker, request, budget=0.4)


async def test_concurrent_calls_share_one_breaker_and_one_trial() -> None:
    breaker = CircuitBreaker("model", threshold=3, cooldown=0.2)
    healthy = asyncio.Event()
    sent = 0

    async def request(_left: float) -> str:
        nonlocal sent
        sent += 1
        await asyncio.sleep(0.01)
        if not healthy.is_set():
            raise _status_error(500)
        return "ok"

    results = await asyncio.gather(
        *(call_with_retries(breaker, request, budget=1.0) for _ in range(10)),
        return_exceptions=True,
    )
    assert all(isinstance(r, Exception) for r in results)
    assert breaker.state is CircuitState.OPEN
    assert sent < 20  # once open, callers stop sending
    before = sent
    await asyncio.sleep(0.25)
    healthy.set()
    trials = await asyncio.gather(
        *(call_with_retries(breaker, request, attempts=1) for _ in range(5)),
        return_exceptions=True,
    )
    assert sent == before + 1  # one trial; the others were told at once
    assert sum(r == "ok" for r in trials) == 1
    assert sum(isinstance(r, CircuitOpen) for r in trials) == 4
    assert breaker.state is CircuitState.CLOSED
    assert await call_with_retries(breaker, request) == "ok"
