"""A check-in for someone whose language the server's speech can't speak (Spanish in local mode,
whose models are English only) is not dialled: it ends skipped with the reason as its note (what
Today and their page show), and no caregiver is told, since nobody failed to answer (both
databases)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from carecall.checkins.roster import CaregiverInput, PlanInput
from carecall.core.policy import NOT_IN_THEIR_LANGUAGE
from carecall.persistence.models import CheckinOutcome, CheckinState
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.checkins.program import Program, running_program

CHICAGO = ZoneInfo("America/Chicago")
SUSAN = "+13125550111"


def chicago(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=CHICAGO).astimezone(UTC)  # a Monday


@pytest.fixture
def program(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Program]:
    settings = make_settings(database_url=database_url, openai_api_key=None, openai_base_url=None)
    assert settings.service_choice.speech == "local"
    with running_program(settings, FakeClock(chicago(9))) as program:
        yield program


def _plan() -> PlanInput:
    return PlanInput(weekdays="mon", window_start="10:00", window_end="11:00")


def test_a_spanish_speaker_s_check_in_is_skipped_with_the_reason(program: Program) -> None:
    program.add_senior(
        plan=_plan(),
        language="es",
        caregivers=(CaregiverInput(name="Susan Smith", phone_number=SUSAN),),
    )
    program.add_senior(name="John Doe", phone="+13125550102", plan=_plan())  # English
    program.clock.set(chicago(10))
    program.run_round()

    # John is dialled; Mary is not, and her caregiver is not texted.
    assert [r.form["To"] for r in program.twilio.sent("call")] == ["+13125550102"]
    assert program.twilio.sent("sms") == []
    mary = next(c for c in program.checkins() if c.outcome is CheckinOutcome.SKIPPED)
    assert mary.state is CheckinState.DONE
    assert mary.note is not None
    assert mary.note.startswith(
        f"{NOT_IN_THEIR_LANGUAGE}: Mary Smith speaks Spanish (es), and this server's speech"
    )
    program.clock.set(chicago(11, 30))
    program.run_round()
    assert program.twilio.sent("sms") == []
