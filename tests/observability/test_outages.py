"""`DependencyWatch`: an outage is two log lines, however many workers meet it and however
long it lasts: one when it starts, one when it ends with how long it lasted. Other errors are
left to the worker that met them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger
from sqlalchemy.exc import IntegrityError, OperationalError

from carecall.observability.outages import database_watch


@pytest.fixture
def lines() -> Iterator[list[str]]:
    found: list[str] = []
    sink = logger.add(lambda m: found.append(str(m).strip()), level="DEBUG", format="{message}")
    yield found
    logger.remove(sink)


def test_an_outage_is_one_line_away_and_one_back_with_how_long(lines: list[str]) -> None:
    now = [100.0]
    watch = database_watch()
    watch._clock = lambda: now[0]
    refused = OperationalError("SELECT 1", {}, ConnectionRefusedError("postgres:secret@db"))
    watch.answered()  # nothing was wrong: nothing to say
    for noticed_by in ("the dispatcher", "the wellbeing worker", "the dispatcher"):
        assert watch.failed(refused, noticed_by)
        now[0] += 5
    assert watch.away
    watch.answered()
    watch.answered()
    assert not watch.away
    assert lines == [
        "The database is unreachable (the dispatcher: OperationalError); background work "
        "waits for it, and resumes by itself once it is back",
        "The database is back after 15 s",
    ]
    assert not any("secret" in line for line in lines)


def test_another_error_is_not_an_outage(lines: list[str]) -> None:
    watch = database_watch()
    assert not watch.failed(IntegrityError("INSERT", {}, Exception("duplicate")), "a worker")
    assert not watch.away and lines == []
