"""Calls a stopped server left open are closed from what Twilio's REST API says, on a clock the
test moves (both databases)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from carecall.checkins.roster import PlanInput
from carecall.persistence.models import CallChannel, CallStatus, CheckinOutcome, CheckinState
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.checkins.program import Program, midday_zone, running_program


@pytest.fixture
def program(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Program]:
    # Calls are stamped with the real time when stored: the test clock starts there.
    clock = FakeClock(datetime.now(UTC))
    with running_program(make_settings(database_url=database_url), clock) as program:
        yield program


def reconcile(program: Program) -> int:
    portal = program.client.portal
    assert portal is not None
    return portal.call(program.state.reconciler.run_once)


def call_status(program: Program, call_id: int) -> CallStatus:
    portal = program.client.portal
    assert portal is not None
    call = portal.call(program.state.calls.get, call_id)
    assert call is not None
    return call.status


def test_a_checkin_call_that_ended_while_we_were_down_is_closed_and_counted(
    program: Program,
) -> None:
    program.add_senior(
        timezone=midday_zone(program.clock.now()),
        plan=PlanInput(weekdays="daily", window_start="10:30", window_end="13:30"),
    )
    program.run_round()
    (sid,) = program.twilio.call_ids
    call_id = program.twilio.call_ids[sid]
    program.twilio_says(sid, "in-progress")
    # The server dies; Twilio's call ends and its "completed" callback is never delivered.
    program.twilio.set_call_status(sid, "completed")
    assert reconcile(program) == 0, "a call younger than the grace period is left alone"

    program.clock.advance(minutes=3)
    assert reconcile(program) == 1
    assert call_status(program, call_id) is CallStatus.COMPLETED
    portal = program.client.portal
    assert portal is not None
    closed = portal.call(program.state.calls.get, call_id)
    assert closed is not None and closed.end_reason == "server-stopped"
    checkin = program.checkins()[0]  # today's (tomorrow's is made too)
    assert checkin.state is CheckinState.DONE and checkin.outcome is CheckinOutcome.COMPLETED
    lookups = [r for r in program.twilio.stamped if r.request.method == "GET"]
    assert [r.request.url.rsplit("/", 1)[-1] for r in lookups] == [f"{sid}.json"]
    assert reconcile(program) == 0, "closed once"


def test_calls_still_live_on_twilio_or_here_are_left_alone(program: Program) -> None:
    portal = program.client.portal
    assert portal is not None
    live_elsewhere = program.client.post("/api/calls", json={"to": "+14155550100"})
    live_here = program.client.post("/api/calls", json={"to": "+14155550101"})
    assert live_elsewhere.status_code == live_here.status_code == 201, live_here.text
    for call in (live_elsewhere.json(), live_here.json()):
        program.twilio.set_call_status(call["twilio_sid"], "in-progress")
    program.twilio.set_call_status(live_here.json()["twilio_sid"], "completed")
    program.state.active_calls.by_call_id[live_here.json()["id"]] = None  # type: ignore[assignment]
    try:
        program.clock.advance(minutes=10)
        assert reconcile(program) == 0
    finally:
        del program.state.active_calls.by_call_id[live_here.json()["id"]]
    assert call_status(program, live_elsewhere.json()["id"]) is CallStatus.QUEUED
    assert call_status(program, live_here.json()["id"]) is CallStatus.QUEUED


def test_never_placed_unknown_to_twilio_and_stale_browser_calls_are_closed(
    program: Program,
) -> None:
    portal = program.client.portal
    assert portal is not None
    calls = program.state.calls
    never_placed = portal.call(calls.create, "+14155550102", "+15005550006")
    unknown = portal.call(calls.create, "+14155550103", "+15005550006")
    portal.call(calls.mark_placed, unknown.id, "CA" + "9" * 32, CallStatus.RINGING)
    browser = portal.call(
        functools.partial(calls.create, "browser", None, channel=CallChannel.BROWSER)
    )
    portal.call(calls.mark_connected, browser.id)

    program.clock.advance(minutes=3)
    assert reconcile(program) == 2
    assert call_status(program, never_placed.id) is CallStatus.FAILED
    assert call_status(program, unknown.id) is CallStatus.FAILED
    assert call_status(program, browser.id) is CallStatus.IN_PROGRESS

    settings = program.state.settings
    program.clock.advance(
        seconds=settings.max_call_seconds
        + settings.ring_timeout_seconds
        + timedelta(minutes=5).total_seconds()
    )
    assert reconcile(program) == 1
    assert call_status(program, browser.id) is CallStatus.COMPLETED
