"""Trend alerts after a run of worse calls, through the whole server on SQLite and PostgreSQL:
three conversations end through Twilio's signed status webhook, the record worker makes each
record with the real `openai` SDK against a fake model server, and after the third (sleep worse
each time) one trend alert is raised and its text goes to the caregiver through the real Twilio
SDK (asserted as Twilio received it); the Today board shows it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest

from carecall.checkins.roster import CaregiverInput
from carecall.settings import Settings
from tests.api.support import add_operator, log_in, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.checkins.program import running_program
from tests.wellbeing.conversations import A, Line, P, turns_of
from tests.wellbeing.fake_llm import FakeLLM, running_fake_llm

START = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)  # 10:00 in Chicago
SUSAN = "+13125550103"
NIGHTS = (
    (0, "I slept like a log last night"),
    (1, "I woke up a few times in the night"),
    (2, "I only slept two hours last night"),
)


def _conversation(night: str) -> tuple[Line, ...]:
    return (
        Line(A, "Good morning Mary, it's Sunny. How did you sleep?"),
        Line(P, f"Well, {night}."),
        Line(A, "Thank you for telling me. Take care, Mary."),
        Line(P, "Goodbye, dear."),
    )


def _answer(level: int, night: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        measure: {"level": None, "evidence": ""}
        for measure in (
            "mood",
            "eating",
            "pain",
            "medication",
            "social_contact",
            "loneliness",
            "mobility",
            "confusion",
        )
    }
    answer["sleep"] = {"level": level, "evidence": night}
    answer["summary"] = "Mary talked about how she slept."
    answer["follow_ups"] = []
    return answer


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with running_fake_llm() as fake:
        for level, night in NIGHTS:
            fake.reply_when(night, _answer(level, night))
        yield fake


def test_a_run_of_worse_calls_alerts_the_caregiver_once(
    make_settings: Callable[..., Settings], database_url: str, fake_llm: FakeLLM
) -> None:
    settings = make_settings(
        database_url=database_url,
        openai_base_url=fake_llm.base_url,
        organization_name="Sunny Care",
        record_worker_enabled=False,  # the test runs the worker's rounds
    )
    clock = FakeClock(START)
    with running_program(settings, clock) as program:
        state = program.state
        senior = program.add_senior(
            name="Mary Smith",
            phone="+13125550101",
            caregivers=(CaregiverInput("Susan Smith", SUSAN, "daughter", "sms"),),
        )

        def converse(lines: Sequence[Line]) -> None:
            call = on_app_loop(
                program.client, state.call_service.place_call, senior.phone_number, senior=senior
            )
            assert call.twilio_sid is not None
            program.twilio_says(call.twilio_sid, "in-progress")
            on_app_loop(
                program.client, state.calls.add_turns, turns_of(call.id, lines, clock.now())
            )
            program.twilio_says(call.twilio_sid, "completed")
            clock.advance(minutes=1)
            assert on_app_loop(program.client, state.record_jobs.run_once) == 1

        for day, (_, night) in enumerate(NIGHTS):
            converse(_conversation(night))
            if day < 2:
                assert program.twilio.sent("sms") == []
            clock.advance(hours=24)

        texts = [(r.form["To"], r.form["Body"]) for r in program.twilio.sent("sms")]
        reason = (
            "Mary's sleep has got worse over the last 3 calls (sleeping well, then some poor "
            "nights, then sleeping badly): “I only slept two hours last night”."
        )
        assert texts == [(SUSAN, f"Sunny Care: {reason} Please check in with Mary soon.")]
        alerts, total = on_app_loop(
            program.client, state.alerts.repository.search, state="open", senior_id=senior.id
        )
        assert total == 1 and alerts[0].reason == reason

        # Another bad night: the open alert is not raised again.
        fake_llm.reply_when("I hardly slept", _answer(2, "I hardly slept"))
        converse(_conversation("I hardly slept"))
        assert len(program.twilio.sent("sms")) == 1

        add_operator(program.client)
        log_in(program.client)
        today = program.client.get("/today").text
        words = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", today)))
        assert "Trend: Sleep" in words and reason in words
