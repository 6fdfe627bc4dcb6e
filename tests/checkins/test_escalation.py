"""The escalation ladder on a clock the test moves, on both databases: which texts and calls the
real Twilio SDK sent (through the fake HTTP client), to whom, saying what, and when; what is
stored; what the dashboard hears; and that concurrent openers and advancers tell each caregiver
once."""

from __future__ import annotations

import asyncio
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from carecall.checkins.escalation import EscalationLadder, is_acknowledgement, missed_reason
from carecall.checkins.roster import CaregiverInput, PlanInput
from carecall.core.events import NO_CALL, CallEvent, InProcessEventBus
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.escalations import EscalationRepository
from carecall.persistence.models import (
    Caregiver,
    Checkin,
    CheckinOutcome,
    CheckinState,
    ContactMethod,
    Escalation,
    EscalationState,
    Senior,
)
from carecall.settings import Settings
from carecall.telephony.twilio_client import TwilioGateway
from tests.api.support import on_app_loop, signed_post
from tests.checkins.clocks import FakeClock
from tests.checkins.program import Program, StampedRequest, running_program

CHICAGO = ZoneInfo("America/Chicago")
SUSAN = "+13125550111"
JOHN = "+13125550122"
OUR_NUMBER = "+15005550006"
SMS_TO_SUSAN = (
    "Sunny Care: We couldn't reach Mary Smith for their 10:00 check-in today "
    "(3 tries: no answer). Please check on Mary. Reply OK to let us know you've got this."
)
SPOKEN_TO_JOHN = (
    "Hello, this is an automated message from Sunny Care. We couldn't reach Mary Smith for "
    "their 10:00 check-in today, 3 tries, no answer. Please check on Mary."
)


def chicago(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2026 in Chicago's local time (Monday 2 March is day 2)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


@pytest.fixture
def program(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Program]:
    clock = FakeClock(chicago(2, 10, 47))  # the 10:00 check-in's last try has just failed
    settings = make_settings(database_url=database_url, organization_name="Sunny Care")
    with running_program(settings, clock) as program:
        yield program


def add_mary(
    program: Program,
    caregivers: tuple[CaregiverInput, ...] | None = None,
    *,
    name: str = "Mary Smith",
    phone: str = "+13125550101",
    language: str = "en",
) -> tuple[Senior, Checkin]:
    """Mary (Chicago) with Susan (texted) then John (called), and today's 10:00 check-in,
    which reached nobody."""
    if caregivers is None:
        caregivers = (
            CaregiverInput(name="Susan Smith", phone_number=SUSAN, relation="daughter"),
            CaregiverInput(name="John Smith", phone_number=JOHN, contact_by="call"),
        )
    senior = program.add_senior(
        name=name,
        phone=phone,
        plan=PlanInput(weekdays="mon", window_start="10:00", window_end="11:00"),
        caregivers=caregivers,
        language=language,
    )

    async def add_checkin() -> Checkin:
        async with create_session_factory(program.state.engine).begin() as session:
            checkin = Checkin(
                plan_id=senior.plans[0].id,
                senior_id=senior.id,
                local_date=date(2026, 3, 2),
                window_start_at=chicago(2, 10),
                window_end_at=chicago(2, 11),
                state=CheckinState.DONE,
                attempts=3,
                outcome=CheckinOutcome.NO_ANSWER,
            )
            session.add(checkin)
        return checkin

    return senior, on_app_loop(program.client, add_checkin)


def open_for_missed(
    program: Program,
    checkin: Checkin,
    senior: Senior,
    outcome: CheckinOutcome = CheckinOutcome.NO_ANSWER,
) -> Escalation | None:
    return on_app_loop(
        program.client,
        program.state.escalations.open_for_missed,
        checkin,
        senior,
        outcome,
        ack_minutes=30,
    )


def advance(program: Program) -> int:
    return on_app_loop(program.client, program.state.escalations.advance)


def stored(program: Program, escalation_id: int) -> Escalation:
    found = on_app_loop(
        program.client,
        program.state.escalations.repository.get,
        escalation_id,
        with_notices=True,
    )
    assert found is not None
    return found


def sent(program: Program) -> list[tuple[str, str, str]]:
    """Every text and call sent so far: (Chicago time, kind, to)."""
    return [
        (f"{r.at.astimezone(CHICAGO):%H:%M}", r.kind, str(r.form["To"]))
        for r in program.twilio.stamped
        if r.request.method == "POST"
    ]


def local(moment: datetime | None) -> str:
    assert moment is not None
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return f"{aware.astimezone(CHICAGO):%H:%M}"


class EscalationEvents:
    """The `escalation.updated` events published on the app's bus, collected on its loop by a
    subscriber task."""

    def __init__(self, program: Program) -> None:
        self._program = program
        self._seen: list[CallEvent] = []
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> EscalationEvents:
        async def start() -> None:
            subscribed = asyncio.Event()

            async def collect() -> None:
                async with self._program.state.bus.subscribe() as events:
                    subscribed.set()
                    async for event in events:
                        self._seen.append(event)

            self._task = asyncio.create_task(collect())
            await subscribed.wait()

        on_app_loop(self._program.client, start)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._task is not None
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

        on_app_loop(self._program.client, stop)

    def states(self) -> list[tuple[str, int]]:
        """(state, step) of each escalation event published since the last read."""
        on_app_loop(self._program.client, asyncio.sleep, 0.05)  # let the collector catch up
        events = [e for e in self._seen if e.kind == "escalation.updated"]
        self._seen.clear()
        for event in events:
            assert event.call_id == NO_CALL
            assert set(event.data) >= {"senior_id", "escalation_id", "state"}
        return [(e.data["state"], e.data["step"]) for e in events]


def gather_of(request: StampedRequest) -> tuple[list[str], dict[str, Any]]:
    """What a notice call's TwiML says, and its first `<Gather>`'s attributes."""
    root = ET.fromstring(str(request.form["Twiml"]))
    gather = root.find("Gather")
    assert gather is not None
    return [say.text or "" for say in gather.findall("Say")], dict(gather.attrib)


# --- the ladder, step by step ------------------------------------------------------------------


def test_first_contact_is_texted_at_once_and_the_next_called_after_the_ack_time(
    program: Program,
) -> None:
    senior, checkin = add_mary(program)
    with EscalationEvents(program) as events:
        escalation = open_for_missed(program, checkin, senior)
        assert escalation is not None
        assert (escalation.state, escalation.step) == (EscalationState.OPEN, 1)
        assert escalation.reason == "3 tries: no answer"
        assert sent(program) == [("10:47", "sms", SUSAN)]
        text = program.twilio.sent("sms")[0].form
        assert text == {"To": SUSAN, "From": OUR_NUMBER, "Body": SMS_TO_SUSAN}
        assert events.states() == [("open", 0), ("open", 1)]

        program.clock.advance(minutes=29)
        assert advance(program) == 0
        assert sent(program) == [("10:47", "sms", SUSAN)]
        assert events.states() == []

        program.clock.advance(minutes=2)  # 31 minutes after Susan was told
        assert advance(program) == 1
        assert sent(program) == [("10:47", "sms", SUSAN), ("11:18", "call", JOHN)]
        call = program.twilio.sent("call")[0]
        assert call.form["From"] == OUR_NUMBER and "Url" not in call.form
        said, gather = gather_of(call)
        assert said == [SPOKEN_TO_JOHN, "Press 1 to let us know you've got this."]
        assert gather["numDigits"] == "1" and gather["method"] == "POST"
        action = urlsplit(gather["action"])
        assert f"{action.scheme}://{action.netloc}{action.path}" == (
            "https://carecall.example.org/twilio/escalation-ack"
        )
        query = parse_qs(action.query)
        assert query["escalation_id"] == [str(escalation.id)]
        assert program.state.escalations.tokens.verify(escalation.id, JOHN, query["token"][0])
        assert events.states() == [("open", 2)]

    row = stored(program, escalation.id)
    assert [(n.contact_name, n.to_number, n.method, local(n.sent_at)) for n in row.notices] == [
        ("Susan Smith", SUSAN, ContactMethod.SMS, "10:47"),
        ("John Smith", JOHN, ContactMethod.CALL, "11:18"),
    ]
    assert row.notices[0].body == SMS_TO_SUSAN
    assert row.notices[1].body == SPOKEN_TO_JOHN
    sms_sid, call_sid = (n.twilio_sid for n in row.notices)
    assert sms_sid in program.twilio.messages and call_sid in program.twilio.calls
    assert all(n.error is None for n in row.notices)
    assert local(row.next_step_at) == "11:48"


def test_nobody_acknowledges_so_the_escalation_is_exhausted_and_stays(program: Program) -> None:
    senior, checkin = add_mary(program)
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    program.clock.advance(minutes=30)
    assert advance(program) == 1  # John is called at 11:17
    with EscalationEvents(program) as events:
        program.clock.advance(minutes=29)
        assert advance(program) == 0
        assert stored(program, escalation.id).state is EscalationState.OPEN
        program.clock.advance(minutes=1)  # 30 minutes after the last contact was told
        assert advance(program) == 0
        assert events.states() == [("exhausted", 2)]
        program.clock.advance(hours=5)
        assert advance(program) == 0
        assert events.states() == []
    row = stored(program, escalation.id)
    assert (row.state, row.step, row.next_step_at) == (EscalationState.EXHAUSTED, 2, None)
    assert sent(program) == [("10:47", "sms", SUSAN), ("11:17", "call", JOHN)]

    # Exhausted still needs someone: an operator can take it in hand.
    acknowledged = on_app_loop(
        program.client, program.state.escalations.acknowledge, escalation.id, by="nurse@example.org"
    )
    assert acknowledged is not None and acknowledged.state is EscalationState.ACKNOWLEDGED
    assert acknowledged.acknowledged_by == "nurse@example.org"
    assert local(acknowledged.acknowledged_at) == "16:47"
    again = on_app_loop(
        program.client, program.state.escalations.acknowledge, escalation.id, by="someone else"
    )
    assert again is None
    assert stored(program, escalation.id).acknowledged_by == "nurse@example.org"


def test_an_ok_text_from_the_first_contact_stops_the_ladder(program: Program) -> None:
    senior, checkin = add_mary(program)
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    program.clock.advance(minutes=5)
    reply = signed_post(
        program.client,
        "/twilio/sms",
        {
            "MessageSid": "SM" + "a" * 32,
            "AccountSid": "AC" + "1" * 32,
            "From": SUSAN,
            "To": OUR_NUMBER,
            "Body": "Ok!",
            "NumMedia": "0",
        },
    )
    assert reply.status_code == 200
    message = ET.fromstring(reply.text).find("Message")
    assert message is not None
    assert message.text == "Thank you, Susan. We've noted that you're checking on Mary."
    row = stored(program, escalation.id)
    assert row.state is EscalationState.ACKNOWLEDGED
    assert row.acknowledged_by == "Susan Smith (SMS)"
    assert local(row.acknowledged_at) == "10:52"

    for _ in range(6):
        program.clock.advance(minutes=31)
        assert advance(program) == 0
    assert sent(program) == [("10:47", "sms", SUSAN)]
    assert stored(program, escalation.id).state is EscalationState.ACKNOWLEDGED


def test_no_caregivers_means_exhausted_at_once(program: Program) -> None:
    senior, checkin = add_mary(program, caregivers=())
    with EscalationEvents(program) as events:
        escalation = open_for_missed(program, checkin, senior, CheckinOutcome.VOICEMAIL)
        assert events.states() == [("open", 0), ("exhausted", 0)]
    assert escalation is not None
    assert escalation.state is EscalationState.EXHAUSTED
    assert escalation.reason == "3 tries: went to voicemail"
    assert program.twilio.requests == []
    program.clock.advance(hours=2)
    assert advance(program) == 0
    assert program.twilio.requests == []


def test_a_checkin_is_escalated_once_however_often_and_concurrently_asked(
    program: Program,
) -> None:
    senior, checkin = add_mary(program)
    first = open_for_missed(program, checkin, senior)
    assert first is not None
    assert open_for_missed(program, checkin, senior) is None

    async def five_at_once() -> list[Escalation | None]:
        ladder = program.state.escalations
        return await asyncio.gather(
            *(
                ladder.open_for_missed(checkin, senior, CheckinOutcome.BUSY, ack_minutes=30)
                for _ in range(5)
            )
        )

    assert on_app_loop(program.client, five_at_once) == [None] * 5
    assert sent(program) == [("10:47", "sms", SUSAN)]
    found, total = on_app_loop(program.client, program.state.escalations.repository.search)
    assert total == 1 and found[0].id == first.id


def test_concurrent_first_openers_send_one_text(program: Program) -> None:
    senior, checkin = add_mary(program)

    async def race() -> list[Escalation | None]:
        ladder = program.state.escalations
        return await asyncio.gather(
            *(
                ladder.open_for_missed(checkin, senior, CheckinOutcome.NO_ANSWER, ack_minutes=30)
                for _ in range(4)
            )
        )

    results = on_app_loop(program.client, race)
    assert sum(r is not None for r in results) == 1
    assert sent(program) == [("10:47", "sms", SUSAN)]


def test_two_dispatchers_advancing_at_once_tell_each_contact_once(
    program: Program, database_url: str
) -> None:
    """Two ladders on separate engines (as two server processes would have) race every step."""
    senior, checkin = add_mary(program)
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    state = program.state

    async def both_advance() -> list[int]:
        engine = create_engine(database_url)
        try:
            other = EscalationLadder(
                state.settings,
                EscalationRepository(create_session_factory(engine)),
                TwilioGateway(state.settings, program.twilio),
                program.clock,
                state.bus,
            )
            return list(
                await asyncio.gather(
                    state.escalations.advance(), other.advance(), state.escalations.advance()
                )
            )
        finally:
            await engine.dispose()

    program.clock.advance(minutes=31)
    assert sum(on_app_loop(program.client, both_advance)) == 1
    program.clock.advance(minutes=31)
    assert sum(on_app_loop(program.client, both_advance)) == 0
    assert sent(program) == [("10:47", "sms", SUSAN), ("11:18", "call", JOHN)]
    row = stored(program, escalation.id)
    assert len(row.notices) == 2
    assert (row.state, row.step) == (EscalationState.EXHAUSTED, 2)


# --- when Twilio fails ---------------------------------------------------------------------------


def test_a_failed_text_is_stored_and_the_ladder_goes_on_at_the_next_step_time(
    program: Program,
) -> None:
    senior, checkin = add_mary(program)
    program.twilio.queue_error(500, 20500, "Internal Server Error")
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None and escalation.state is EscalationState.OPEN
    (notice,) = stored(program, escalation.id).notices
    assert notice.twilio_sid is None
    assert (
        notice.error
        == "Twilio could not send a text message: Unable to create record: Internal Server Error"
        " (Twilio error 20500)"
    )
    assert notice.body == SMS_TO_SUSAN

    program.clock.advance(minutes=29)
    assert advance(program) == 0
    program.clock.advance(minutes=1)
    assert advance(program) == 1
    assert sent(program) == [("10:47", "sms", SUSAN), ("11:17", "call", JOHN)]
    # Susan's text never went out, so her "OK" can't be for this escalation.
    assert (
        on_app_loop(program.client, program.state.escalations.acknowledge_from_phone, SUSAN) == []
    )
    assert stored(program, escalation.id).state is EscalationState.OPEN


def test_a_number_that_cant_get_texts_moves_on_to_the_next_contact_at_once(
    program: Program,
) -> None:
    senior, checkin = add_mary(program)
    program.twilio.queue_error(400, 21614, "'To' number is not a valid mobile number")
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    assert sent(program) == [("10:47", "sms", SUSAN), ("10:47", "call", JOHN)]
    row = stored(program, escalation.id)
    assert [(n.contact_name, n.twilio_sid is None) for n in row.notices] == [
        ("Susan Smith", True),
        ("John Smith", False),
    ]
    assert row.notices[0].error == (
        "This phone number can't receive text messages (it isn't a mobile number)."
    )
    assert (row.state, row.step, local(row.next_step_at)) == (EscalationState.OPEN, 2, "11:17")


@pytest.mark.parametrize(
    ("missing", "contact_by"),
    [("twilio_phone_number", "sms"), ("webhook_url", "call")],
)
def test_missing_configuration_is_stored_not_raised(
    make_settings: Callable[..., Settings], database_url: str, missing: str, contact_by: str
) -> None:
    clock = FakeClock(chicago(2, 10, 47))
    settings = make_settings(database_url=database_url, **{missing: None})
    with running_program(settings, clock) as program:
        senior, checkin = add_mary(
            program, (CaregiverInput(name="John Smith", phone_number=JOHN, contact_by=contact_by),)
        )
        escalation = open_for_missed(program, checkin, senior)
        assert escalation is not None and escalation.state is EscalationState.OPEN
        (notice,) = stored(program, escalation.id).notices
        assert notice.twilio_sid is None
        assert notice.error is not None and missing.upper() in notice.error
        assert program.twilio.requests == []
        program.clock.advance(minutes=30)
        assert advance(program) == 0
        assert stored(program, escalation.id).state is EscalationState.EXHAUSTED


# --- words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "attempts", "reason"),
    [
        (CheckinOutcome.VOICEMAIL, 3, "3 tries: went to voicemail"),
        (CheckinOutcome.BUSY, 1, "1 try: line busy"),
        (CheckinOutcome.FAILED, 2, "2 tries: call failed"),
        (CheckinOutcome.SKIPPED, 0, "not called"),
    ],
)
def test_the_reason_says_what_happened(outcome: CheckinOutcome, attempts: int, reason: str) -> None:
    assert missed_reason(outcome, attempts) == reason


@pytest.mark.parametrize(
    ("body", "acknowledges"),
    [
        ("OK", True),
        ("ok thanks, on my way", True),
        ("Yes", True),
        ("Got it.", True),
        ("👍", True),
        ("no", False),
        ("not ok, I'm away", False),
        ("Who is this?", False),
        ("", False),
    ],
)
def test_which_replies_acknowledge(body: str, acknowledges: bool) -> None:
    assert is_acknowledgement(body) is acknowledges


# --- with the dispatcher -------------------------------------------------------------------------


def test_three_unanswered_tries_reach_the_caregivers_through_the_dispatcher(
    program: Program,
) -> None:
    """The whole program: the dispatcher dials, Twilio says no-answer three times, the ladder
    texts Susan when the last try ends and calls John 30 minutes later, on dispatcher rounds."""
    program.add_senior(
        plan=PlanInput(
            weekdays="mon", window_start="10:00", window_end="11:30", retry_delay_minutes=15
        ),
        caregivers=(
            CaregiverInput(name="Susan Smith", phone_number=SUSAN),
            CaregiverInput(name="John Smith", phone_number=JOHN, contact_by="call"),
        ),
    )
    for minute in (0, 15, 30):
        program.clock.set(chicago(2, 10, minute))
        program.run_round()
        sid = max(program.twilio.call_ids, key=lambda s: program.twilio.call_ids[s])
        program.twilio_says(sid, "no-answer", CallDuration="0")
    assert sent(program) == [
        ("10:00", "call", "+13125550101"),
        ("10:15", "call", "+13125550101"),
        ("10:30", "call", "+13125550101"),
        ("10:30", "sms", SUSAN),
    ]
    assert program.twilio.sent("sms")[0].form["Body"] == SMS_TO_SUSAN

    program.clock.set(chicago(2, 10, 59))
    assert program.run_round().notices == 0
    program.clock.set(chicago(2, 11, 0))
    assert program.run_round().notices == 1
    assert sent(program)[-1] == ("11:00", "call", JOHN)
    found, total = on_app_loop(program.client, program.state.escalations.repository.search)
    assert total == 1 and found[0].state is EscalationState.OPEN and found[0].step == 2


def test_a_reached_checkin_is_not_escalated(program: Program) -> None:
    senior, checkin = add_mary(program)
    with pytest.raises(ValueError, match="reached the person"):
        open_for_missed(program, checkin, senior, CheckinOutcome.COMPLETED)
    assert program.twilio.requests == []


@pytest.mark.parametrize(
    ("now", "words"),
    [
        (chicago(2, 20, 59), "10:00 check-in today"),
        (chicago(3, 0, 30), "10:00 check-in yesterday"),
        (chicago(5, 9), "10:00 check-in on Monday 2 March"),
    ],
)
def test_notices_name_the_checkin_in_the_seniors_local_time(
    make_settings: Callable[..., Settings], now: datetime, words: str
) -> None:
    settings = make_settings()  # organization "your care team"
    ladder = EscalationLadder(
        settings,
        EscalationRepository(create_session_factory(create_engine("sqlite+aiosqlite://"))),
        TwilioGateway(settings),
        FakeClock(now),
        InProcessEventBus(),
    )
    senior = Senior(name="Mary Smith", preferred_name="Molly", timezone="America/Chicago")
    checkin = Checkin(local_date=date(2026, 3, 2), window_start_at=chicago(2, 10))
    escalation = Escalation(id=7, reason="2 tries: line busy")
    texted = Caregiver(name="Susan Smith", phone_number=SUSAN, contact_by=ContactMethod.SMS)

    notice = ladder.notice_for(escalation, senior, checkin, texted, now)
    assert not notice.by_call
    assert notice.text == (
        f"Your care team: We couldn't reach Mary Smith for their {words} (2 tries: line busy). "
        "Please check on Molly. Reply OK to let us know you've got this."
    )
