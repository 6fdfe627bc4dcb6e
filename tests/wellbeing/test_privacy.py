"""Privacy: everything about one person exported as JSON, or erased; transcripts older than the
retention period deleted while calls, records and alerts stay (both databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from carecall.checkins.roster import CaregiverInput, PlanInput
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import (
    Alert,
    Call,
    CallRecord,
    CallStep,
    Caregiver,
    ConversationTurn,
    TurnRole,
)
from carecall.pipeline.events import StepRecord, TurnRecord
from carecall.settings import Settings
from tests.api.support import add_operator, log_in
from tests.checkins.clocks import FakeClock
from tests.checkins.program import Program, midday_zone, running_program

MARY = "+13125550101"
JOHN = "+13125550102"


def _setup(program: Program) -> tuple[int, int, int]:
    """Mary (with a caregiver and a plan), a call placed for her with its transcript, record
    and alert, a call to her number made before she was on the roster, and John's call."""
    # Where it is midday on the test's clock, so the calls are inside their calling hours.
    zone = midday_zone(program.clock.now())
    mary = program.add_senior(
        timezone=zone,
        plan=PlanInput(weekdays="daily", window_start="10:00", window_end="11:00"),
        caregivers=(CaregiverInput("Susan Smith", "+13125550190", "daughter"),),
    )
    program.add_senior(name="John Doe", phone=JOHN, timezone=zone)
    portal = program.client.portal
    assert portal is not None
    calls = program.state.calls
    for_her = program.client.post("/api/calls", json={"senior_id": mary.id})
    assert for_her.status_code == 201, for_her.text
    call_id = for_her.json()["id"]
    earlier = portal.call(calls.create, MARY, None)  # dialled by number, before the roster
    johns = program.client.post("/api/calls", json={"to": JOHN}).json()["id"]
    started = datetime(2026, 1, 5, 15, 1, tzinfo=UTC)
    for call in (call_id, earlier.id, johns):
        portal.call(
            calls.add_turns,
            [
                TurnRecord(call, 0, TurnRole.ASSISTANT, "Hello! How are you today?", started, None),
                TurnRecord(call, 1, TurnRole.USER, "My knee is sore again", started, None),
            ],
        )

    async def records() -> None:
        async with create_session_factory(program.state.engine).begin() as session:
            session.add(
                CallRecord(
                    call_id=call_id,
                    senior_id=mary.id,
                    model="fake",
                    pain=2,
                    evidence={"pain": "My knee is sore again"},
                    summary="Mary's knee is sore again. Otherwise well.",
                    follow_ups=["her knee"],
                )
            )
            session.add(
                Alert(
                    senior_id=mary.id,
                    call_id=call_id,
                    kind="trend",
                    category="pain",
                    severity="warning",
                    reason="Mary's pain has got worse over her last 3 calls",
                    detector="trend",
                )
            )

    portal.call(records)
    for call in (call_id, johns):  # a hand-over to a caregiver, step by step
        portal.call(
            calls.add_steps,
            [StepRecord(call, 1, "dialling", "Calling Susan Smith to take the call.", started)],
        )
    return mary.id, call_id, johns


def _count(program: Program, model: Any, *where: Any) -> int:
    async def count() -> int:
        async with create_session_factory(program.state.engine)() as session:
            return int(
                (
                    await session.execute(select(func.count()).select_from(model).where(*where))
                ).scalar_one()
            )

    portal = program.client.portal
    assert portal is not None
    return portal.call(count)


def test_everything_about_a_person_exports_as_json(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    with running_program(make_settings(database_url=database_url), FakeClock()) as program:
        mary, call_id, johns = _setup(program)
        response = program.client.get(f"/api/seniors/{mary}/export")
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        data = response.json()
        assert data["format"] == "carecall.senior-export/1"
        assert data["senior"]["name"] == "Mary Smith" and data["senior"]["consent_method"]
        assert [c["name"] for c in data["caregivers"]] == ["Susan Smith"]
        assert data["plans"][0]["window_start"] == "10:00:00"
        exported_calls = {c["id"]: c for c in data["calls"]}
        assert call_id in exported_calls and johns not in exported_calls
        assert len(exported_calls) == 2, "the call to her number before the roster is hers too"
        assert [t["text"] for t in exported_calls[call_id]["turns"]][1] == "My knee is sore again"
        assert [s["kind"] for s in exported_calls[call_id]["steps"]] == ["dialling"]
        assert data["wellbeing_records"][0]["summary"].startswith("Mary's knee")
        assert data["alerts"][0]["reason"].startswith("Mary's pain")
        assert data["senior"]["created_at"].endswith("+00:00")
        assert program.client.get("/api/seniors/999/export").status_code == 404

        add_operator(program.client)
        del program.client.headers["Authorization"]
        log_in(program.client)
        page = program.client.get(f"/people/{mary}/export")
        assert page.status_code == 200 and page.json()["senior"]["id"] == mary
        assert f'href="/people/{mary}/export"' in program.client.get(f"/people/{mary}").text


def test_deleting_a_person_erases_everything_about_them(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    with running_program(make_settings(database_url=database_url), FakeClock()) as program:
        mary, call_id, johns = _setup(program)
        assert program.client.delete(f"/api/seniors/{mary}").status_code == 204
        assert _count(program, Call, Call.to_number == MARY) == 0
        assert _count(program, ConversationTurn, ConversationTurn.call_id == call_id) == 0
        assert _count(program, CallStep, CallStep.call_id == call_id) == 0
        assert _count(program, CallStep, CallStep.call_id == johns) == 1
        assert _count(program, CallRecord) == 0
        assert _count(program, Alert) == 0
        assert _count(program, Caregiver) == 0
        # Someone else's call and transcript are untouched.
        assert _count(program, ConversationTurn, ConversationTurn.call_id == johns) == 2
        assert program.client.get(f"/api/seniors/{mary}/export").status_code == 404


def test_transcripts_past_the_retention_period_are_deleted_records_stay(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(database_url=database_url, transcript_retention_days=30)
    clock = FakeClock(datetime.now(UTC))  # calls are stamped with the real time when stored
    with running_program(settings, clock) as program:
        _mary, call_id, johns = _setup(program)
        portal = program.client.portal
        assert portal is not None
        assert portal.call(program.state.retention.run_once) == 0  # nothing old yet

        clock.advance(hours=24 * 31)
        assert portal.call(program.state.retention.run_once) == 6
        assert _count(program, ConversationTurn) == 0
        assert _count(program, Call) == 3, "the calls themselves are kept"
        assert _count(program, CallRecord) == 1 and _count(program, Alert) == 1
        del call_id, johns


def test_retention_is_off_by_default(make_settings: Callable[..., Settings]) -> None:
    clock = FakeClock(datetime.now(UTC) + timedelta(days=3650))
    with running_program(make_settings(), clock) as program:
        _setup(program)
        portal = program.client.portal
        assert portal is not None
        assert not program.state.retention.enabled
        assert portal.call(program.state.retention.run_once) == 0
        assert _count(program, ConversationTurn) == 6
