"""`CallbackBacklog`: callback writes kept while the database is unreachable are made, in
arrival order and each once, when it is back; other failures are not retried forever; the
oldest are dropped past the limit; nothing is retried after shutdown."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from carecall.calls.callback_backlog import CallbackBacklog
from carecall.persistence.models import CallStatus
from carecall.persistence.repositories import StatusUpdate


def update(n: int, status: CallStatus = CallStatus.COMPLETED) -> StatusUpdate:
    return StatusUpdate(call_sid=f"CA{n:032d}", status=status)


def keep(
    backlog: CallbackBacklog, apply: Callable[[StatusUpdate], Awaitable[None]], status: StatusUpdate
) -> None:
    backlog.keep(status.call_sid, f"status {status.status.value}", functools.partial(apply, status))


class FlakyDatabase:
    """Applies updates, but is unreachable for its first ``down`` attempts."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.attempts = 0
        self.applied: list[StatusUpdate] = []

    async def apply(self, status: StatusUpdate) -> None:
        self.attempts += 1
        if self.attempts <= self.down:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        self.applied.append(status)


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_kept_callbacks_are_applied_in_order_once_the_database_is_back() -> None:
    database = FlakyDatabase(down=3)
    backlog = CallbackBacklog(first_delay=0.01, max_delay=0.05)
    kept = [update(1, CallStatus.IN_PROGRESS), update(1), update(2, CallStatus.NO_ANSWER)]
    for status in kept:
        keep(backlog, database.apply, status)
    assert len(backlog) == 3
    await wait_until(lambda: len(backlog) == 0)
    assert database.applied == kept
    assert database.attempts == 3 + len(kept)
    await backlog.aclose()


async def test_a_callback_that_fails_for_another_reason_is_dropped_not_retried() -> None:
    attempts: list[StatusUpdate] = []

    async def apply(status: StatusUpdate) -> None:
        attempts.append(status)
        if status.call_sid == update(1).call_sid:
            raise IntegrityError("UPDATE calls", {}, Exception("constraint"))

    backlog = CallbackBacklog(first_delay=0.01)
    keep(backlog, apply, update(1))
    keep(backlog, apply, update(2))
    await wait_until(lambda: len(backlog) == 0)
    assert attempts == [update(1), update(2)]
    await backlog.aclose()


async def test_past_the_limit_the_oldest_is_dropped() -> None:
    database = FlakyDatabase(down=1)
    backlog = CallbackBacklog(limit=2, first_delay=0.05)
    for n in range(3):
        keep(backlog, database.apply, update(n))
    assert len(backlog) == 2
    await wait_until(lambda: len(backlog) == 0)
    assert database.applied == [update(1), update(2)]
    await backlog.aclose()


async def test_the_database_still_away_at_shutdown_leaves_them_to_the_reconciler() -> None:
    database = FlakyDatabase(down=10**6)
    backlog = CallbackBacklog(first_delay=0.01, max_delay=0.02)
    keep(backlog, database.apply, update(1))
    await asyncio.sleep(0.1)
    assert database.attempts >= 3 and len(backlog) == 1
    await backlog.aclose()
    attempts = database.attempts
    await asyncio.sleep(0.1)
    assert database.attempts == attempts, "no retries after the server stopped"


class SilentThenBack:
    """A database behind a network that drops packets: writes hang until ``back`` is set, and
    then fail (their connections were reset); later ones are made."""

    def __init__(self) -> None:
        self.back = asyncio.Event()
        self.applied: list[StatusUpdate] = []

    async def apply(self, status: StatusUpdate) -> None:
        if not self.back.is_set():
            await self.back.wait()
            raise OperationalError("UPDATE calls", {}, ConnectionResetError("reset"))
        self.applied.append(status)


async def test_a_write_the_database_does_not_answer_is_acknowledged_in_time_and_kept() -> None:
    database = SilentThenBack()
    backlog = CallbackBacklog(first_delay=0.01, max_delay=0.02)
    statuses = [update(1, CallStatus.RINGING), update(1, CallStatus.IN_PROGRESS), update(1)]
    loop = asyncio.get_running_loop()
    for status in statuses:
        began = loop.time()
        made = await backlog.write_or_keep(
            status.call_sid, "status", functools.partial(database.apply, status), within=0.2
        )
        assert made == (False, None)
        assert loop.time() - began < 0.5
    assert len(backlog) == 3
    database.back.set()
    await wait_until(lambda: len(backlog) == 0)
    assert database.applied == statuses  # in arrival order
    await backlog.aclose()


async def test_a_write_made_in_time_returns_its_result_and_other_errors_are_raised() -> None:
    backlog = CallbackBacklog()

    async def made() -> str:
        return "stored"

    async def refused() -> None:
        raise OperationalError("UPDATE calls", {}, ConnectionRefusedError("refused"))

    async def broken() -> None:
        raise IntegrityError("UPDATE calls", {}, Exception("constraint"))

    assert await backlog.write_or_keep("CA1", "status", made) == (True, "stored")
    with pytest.raises(IntegrityError):
        await backlog.write_or_keep("CA1", "status", broken)
    assert len(backlog) == 0
    assert await backlog.write_or_keep("CA1", "status", refused) == (False, None)
    assert len(backlog) == 1
    await backlog.aclose()
