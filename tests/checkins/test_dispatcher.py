"""The dispatcher, scenario by scenario, on a clock the test moves: plan → due call → retry →
outcome, asserting exactly which calls the real Twilio SDK sent and when (both databases)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecall.checkins.roster import CaregiverInput, PlanInput
from carecall.persistence.models import CheckinOutcome, CheckinState
from carecall.settings import Settings
from tests.api.support import signed_post
from tests.api.test_escalation_webhooks import text_params
from tests.checkins.clocks import FakeClock
from tests.checkins.program import Program, running_program

CHICAGO = ZoneInfo("America/Chicago")
MARY = "+13125550101"


def chicago(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2026, given in Chicago's local time (Monday 2 March is day 2)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


@pytest.fixture
def program(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Program]:
    clock = FakeClock(chicago(2, 9, 0))
    with running_program(make_settings(database_url=database_url), clock) as program:
        yield program


def weekday_plan(**overrides: object) -> PlanInput:
    values: dict[str, object] = {
        "weekdays": "mon,tue,wed,thu,fri",
        "window_start": "10:00",
        "window_end": "11:00",
        "max_attempts": 3,
        "retry_delay_minutes": 15,
    }
    values.update(overrides)
    return PlanInput(**values)  # type: ignore[arg-type]


def local_times(program: Program, kind: str = "call") -> list[str]:
    return [f"{r.at.astimezone(CHICAGO):%a %H:%M}" for r in program.twilio.sent(kind)]


def latest_sid(program: Program) -> str:
    return max(program.twilio.call_ids, key=lambda sid: program.twilio.call_ids[sid])


def test_a_plan_becomes_one_call_at_the_window_start_in_local_time(program: Program) -> None:
    program.add_senior(plan=weekday_plan())
    program.run_round()  # 09:00: Monday's and Tuesday's check-ins are made, none is due
    assert program.twilio.sent("call") == []
    made = program.checkins()
    assert [(c.local_date.isoformat(), c.state) for c in made] == [
        ("2026-03-02", CheckinState.PENDING),
        ("2026-03-03", CheckinState.PENDING),
    ]

    program.clock.set(chicago(2, 9, 59))
    program.run_round()
    assert program.twilio.sent("call") == []

    program.clock.set(chicago(2, 10, 0))
    program.run_round()
    program.run_round()  # a second round dials nothing more
    calls = program.twilio.sent("call")
    assert local_times(program) == ["Mon 10:00"]
    assert calls[0].form["To"] == MARY
    assert calls[0].form["MachineDetection"] == "DetectMessageEnd"
    today = program.checkins()[0]
    assert today.state is CheckinState.CALLING and today.attempts == 1
    assert today.current_call_id == program.twilio.call_ids[latest_sid(program)]


def test_no_answer_and_busy_are_retried_then_a_person_answers(program: Program) -> None:
    program.add_senior(plan=weekday_plan())
    program.clock.set(chicago(2, 10, 0))
    program.run_round()
    program.twilio_says(latest_sid(program), "no-answer")
    today = program.checkins()[0]
    assert today.state is CheckinState.PENDING
    assert today.last_result is CheckinOutcome.NO_ANSWER

    program.clock.set(chicago(2, 10, 14))
    program.run_round()
    assert local_times(program) == ["Mon 10:00"]
    program.clock.set(chicago(2, 10, 15))
    program.run_round()
    assert local_times(program) == ["Mon 10:00", "Mon 10:15"]
    program.twilio_says(latest_sid(program), "busy")

    program.clock.set(chicago(2, 10, 30))
    program.run_round()
    sid = latest_sid(program)
    program.twilio_says(sid, "ringing")
    program.twilio_says(sid, "in-progress")
    program.twilio_says(sid, "completed", CallDuration="240")
    today = program.checkins()[0]
    assert today.state is CheckinState.DONE
    assert today.outcome is CheckinOutcome.COMPLETED
    assert today.attempts == 3

    program.clock.set(chicago(2, 10, 59))
    program.run_round()
    assert local_times(program) == ["Mon 10:00", "Mon 10:15", "Mon 10:30"]


def test_a_late_or_repeated_result_is_applied_once(program: Program) -> None:
    program.add_senior(plan=weekday_plan())
    program.clock.set(chicago(2, 10, 0))
    program.run_round()
    first = latest_sid(program)
    program.twilio_says(first, "no-answer")
    program.twilio_says(first, "no-answer")  # Twilio repeats a callback
    today = program.checkins()[0]
    assert today.state is CheckinState.PENDING and today.attempts == 1
    program.clock.set(chicago(2, 10, 15))
    program.run_round()
    assert len(program.twilio.sent("call")) == 2


def test_voicemail_counts_as_not_reached_and_is_retried(program: Program) -> None:
    program.add_senior(plan=weekday_plan(max_attempts=2))
    program.clock.set(chicago(2, 10, 0))
    program.run_round()
    sid = latest_sid(program)
    program.twilio_says(sid, "in-progress")
    program.twilio_says(sid, "completed", AnsweredBy="machine_end_beep", CallDuration="20")
    today = program.checkins()[0]
    assert today.state is CheckinState.PENDING
    assert today.last_result is CheckinOutcome.VOICEMAIL

    program.clock.set(chicago(2, 10, 15))
    program.run_round()
    program.twilio_says(latest_sid(program), "no-answer")
    today = program.checkins()[0]
    assert today.state is CheckinState.DONE and today.outcome is CheckinOutcome.NO_ANSWER
    assert local_times(program) == ["Mon 10:00", "Mon 10:15"]


def test_tries_stop_when_the_next_would_fall_after_the_window(program: Program) -> None:
    program.add_senior(plan=weekday_plan(max_attempts=5, retry_delay_minutes=25))
    for minute in (0, 25, 50):
        program.clock.set(chicago(2, 10, minute))
        program.run_round()
        program.twilio_says(latest_sid(program), "no-answer")
    today = program.checkins()[0]
    assert today.state is CheckinState.DONE and today.outcome is CheckinOutcome.NO_ANSWER
    program.clock.set(chicago(2, 11, 15))
    program.run_round()
    assert local_times(program) == ["Mon 10:00", "Mon 10:25", "Mon 10:50"]


def test_a_try_that_twilio_refuses_is_failed_and_retried(program: Program) -> None:
    program.add_senior(plan=weekday_plan())
    program.clock.set(chicago(2, 10, 0))
    program.twilio.queue_error(500, 20500, "Internal Server Error")
    program.run_round()
    today = program.checkins()[0]
    assert today.state is CheckinState.PENDING
    assert today.last_result is CheckinOutcome.FAILED
    program.clock.set(chicago(2, 10, 15))
    program.run_round()
    assert [r.form["To"] for r in program.twilio.sent("call")] == [MARY, MARY]


def test_no_calls_without_consent_or_when_marked_do_not_call(program: Program) -> None:
    program.add_senior(plan=weekday_plan(), consent=False)
    dnc = program.add_senior(name="John Doe", phone="+13125550102", plan=weekday_plan())
    on_loop = program.client.portal
    assert on_loop is not None
    on_loop.call(program.state.seniors.set_do_not_call, dnc.id, True)
    program.clock.set(chicago(2, 10, 0))
    program.run_round()
    assert program.twilio.sent("call") == []
    assert program.checkins() == []


def test_a_senior_marked_do_not_call_after_scheduling_is_not_dialed(program: Program) -> None:
    senior = program.add_senior(plan=weekday_plan())
    program.run_round()  # 09:00: today's check-in is made
    portal = program.client.portal
    assert portal is not None
    portal.call(program.state.seniors.set_do_not_call, senior.id, True)
    program.clock.set(chicago(2, 10, 0))
    program.run_round()
    assert program.twilio.sent("call") == []
    today = program.checkins()[0]
    assert today.state is CheckinState.DONE and today.outcome is CheckinOutcome.SKIPPED
    assert "do-not-call" in (today.note or "")


def test_after_a_restart_what_was_due_is_picked_up(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    clock = FakeClock(chicago(2, 9, 0))
    settings = make_settings(database_url=database_url)
    with running_program(settings, clock) as before:
        before.add_senior(plan=weekday_plan())
        before.run_round()
    # The server was down from 09:00 to 10:20: the 10:00 check-in is still due.
    clock.set(chicago(2, 10, 20))
    with running_program(settings, clock) as after:
        after.run_round()
        assert local_times(after) == ["Mon 10:20"]
        after.run_round()
        assert len(after.twilio.sent("call")) == 1


def test_a_try_whose_result_never_comes_is_counted_failed_later(program: Program) -> None:
    program.add_senior(plan=weekday_plan(max_attempts=3, retry_delay_minutes=10))
    program.clock.set(chicago(2, 10, 0))
    program.run_round()
    # No status callback ever arrives. After the longest a call can last, the try is failed.
    settings = program.state.settings
    longest = timedelta(seconds=settings.ring_timeout_seconds + settings.max_call_seconds)
    program.clock.advance(seconds=(longest + timedelta(minutes=5)).total_seconds())
    program.run_round()
    today = program.checkins()[0]
    assert today.last_result is CheckinOutcome.FAILED
    assert today.state is CheckinState.PENDING


def test_a_window_missed_while_down_ends_skipped(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    clock = FakeClock(chicago(2, 9, 0))
    settings = make_settings(database_url=database_url)
    with running_program(settings, clock) as before:
        before.add_senior(plan=weekday_plan())
        before.run_round()
    clock.set(chicago(2, 11, 30))
    with running_program(settings, clock) as after:
        after.run_round()
        assert after.twilio.sent("call") == []
        monday = after.checkins()[0]
        assert monday.state is CheckinState.DONE and monday.outcome is CheckinOutcome.SKIPPED


def test_a_day_unreached_escalates_to_the_caregivers_until_one_replies(program: Program) -> None:
    """Busy, then an answering machine (a voicemail is left), then no answer: the first
    caregiver is texted at once, the second called when the first hasn't answered in time, and
    a reply from the first ends it. Every request Twilio got, with its time, is checked."""
    program.add_senior(
        plan=weekday_plan(escalation_ack_minutes=20),
        caregivers=(
            CaregiverInput(name="Susan Smith", relation="daughter", phone_number="+13125550190"),
            CaregiverInput(
                name="Tom Smith", relation="son", phone_number="+13125550191", contact_by="call"
            ),
        ),
    )
    answers = {0: "busy", 15: "machine", 30: "no-answer"}
    for minute, answer in answers.items():
        program.clock.set(chicago(2, 10, minute))
        program.run_round()
        sid = latest_sid(program)
        if answer == "machine":
            program.twilio_says(sid, "in-progress")
            program.twilio_says(sid, "completed", AnsweredBy="machine_end_beep", CallDuration="25")
        else:
            program.twilio_says(sid, answer)
    today = program.checkins()[0]
    assert today.state is CheckinState.DONE and today.outcome is CheckinOutcome.NO_ANSWER

    program.clock.set(chicago(2, 10, 49))
    program.run_round()  # 19 minutes after the text: nobody else is told yet
    program.clock.set(chicago(2, 10, 51))
    program.run_round()
    program.clock.set(chicago(2, 11, 5))
    reply = signed_post(program.client, "/twilio/sms", text_params("+13125550190", "OK thanks"))
    assert reply.status_code == 200 and "Thank you, Susan" in reply.text
    for minute in (20, 40, 59):
        program.clock.set(chicago(2, 11, minute))
        program.run_round()

    sent = [
        (f"{r.at.astimezone(CHICAGO):%H:%M}", r.kind, r.form["To"])
        for r in program.twilio.stamped
        if r.request.method == "POST" and r.kind in ("call", "sms")
    ]
    assert sent == [
        ("10:00", "call", MARY),
        ("10:15", "call", MARY),
        ("10:30", "call", MARY),
        ("10:30", "sms", "+13125550190"),
        ("10:51", "call", "+13125550191"),
    ]
    text = program.twilio.sent("sms")[0].form["Body"]
    assert "Mary Smith" in text and "10:00" in text and "Reply OK" in text
    tom_call = program.twilio.sent("call")[-1].form
    assert "Mary Smith" in tom_call["Twiml"] and "<Gather" in tom_call["Twiml"]
