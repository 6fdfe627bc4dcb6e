"""AlertService on SQLite and PostgreSQL: trend alerts after a run of worse calls (and none for
an improving or steady run), threshold crossings, one open alert per measure (also with two
processes at once), a new alert after acknowledging; red flags stored, published and texted
within 2 s; a failed text stored with its error, nothing raised. The real Twilio SDK talks to
the fake HTTP client; the caregivers' texts are asserted as Twilio received them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.core.events import CallEvent, InProcessEventBus
from carecall.persistence.alerts import AlertRepository, CallLevels
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import (
    Alert,
    AlertNotice,
    Call,
    CallChannel,
    CallRecord,
    CallStatus,
    Caregiver,
    ContactMethod,
    Senior,
)
from carecall.settings import Settings
from carecall.telephony.twilio_client import REQUEST_ATTEMPTS, TwilioGateway
from carecall.wellbeing.alerts import AlertService, find_trends
from carecall.wellbeing.red_flags import RedFlagCategory, advice_for
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

NOW = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
MARY = "+13125550101"
TOM = "+13125550102"
SUSAN = "+13125550103"
ANN = "+13125550104"
FALL_ADVICE = (
    "This sounds serious, and I want you to get help right away. Please call 9 1 1 now. "
    "I'm also letting your caregiver know."
)


class RecordingBus(InProcessEventBus):
    """The in-process bus, keeping what was published for the test to read."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[CallEvent] = []

    async def publish(self, event: CallEvent) -> None:
        self.published.append(event)
        await super().publish(event)


class TimedTwilio(FakeAsyncTwilioHttpClient):
    """The fake Twilio REST API, noting when (monotonic) each text reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.texted_at: list[float] = []

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() == "POST" and url.endswith("/Messages.json"):
            self.texted_at.append(time.monotonic())
        return await super().request(method, url, *args, **kwargs)


@dataclass
class World:
    engine: AsyncEngine
    settings: Settings
    twilio: TimedTwilio
    bus: RecordingBus
    clock: FakeClock
    service: AlertService
    senior_id: int = 0
    caregivers: dict[str, int] = field(default_factory=dict)

    def service_for(self, engine: AsyncEngine, settings: Settings | None = None) -> AlertService:
        gateway = TwilioGateway(settings or self.settings, self.twilio)
        gateway._retry_base_delay = 0.01
        repository = AlertRepository(create_session_factory(engine))
        return AlertService(settings or self.settings, repository, gateway, self.clock, self.bus)

    def texts(self) -> list[tuple[str, str]]:
        """(To, Body) of every text Twilio was asked to send, in order."""
        return [
            (r.data["To"], r.data["Body"])
            for r in self.twilio.requests
            if r.method == "POST" and r.url.endswith("/Messages.json")
        ]

    async def add_call(
        self,
        levels: Mapping[str, int | None] | None = None,
        evidence: Mapping[str, str] | None = None,
        *,
        days_later: int = 1,
    ) -> int:
        """A completed call a day after the last, and (with `levels`) its record."""
        self.clock.advance(hours=24 * days_later)
        async with create_session_factory(self.engine).begin() as session:
            call = Call(
                to_number=MARY,
                status=CallStatus.COMPLETED,
                created_at=self.clock.now(),
                senior_id=self.senior_id,
            )
            session.add(call)
            await session.flush()
            if levels is not None:
                session.add(
                    CallRecord(
                        call_id=call.id,
                        senior_id=self.senior_id,
                        created_at=self.clock.now(),
                        model="test",
                        evidence=dict(evidence or {}),
                        summary="They talked about their week.",
                        follow_ups=[],
                        **levels,
                    )
                )
            return call.id

    async def alerts(self) -> list[Alert]:
        async with create_session_factory(self.engine)() as session:
            return list((await session.execute(select(Alert).order_by(Alert.id))).scalars())

    async def notices(self) -> list[AlertNotice]:
        async with create_session_factory(self.engine)() as session:
            rows = await session.execute(select(AlertNotice).order_by(AlertNotice.id))
            return list(rows.scalars())


@pytest.fixture
async def world(
    engine: AsyncEngine, database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[World]:
    settings = make_settings(database_url=database_url, organization_name="sunny Care")
    twilio = TimedTwilio()
    bus = RecordingBus()
    clock = FakeClock(NOW)
    world = World(engine, settings, twilio, bus, clock, service=None)  # type: ignore[arg-type]
    world.service = world.service_for(engine)
    async with create_session_factory(engine).begin() as session:
        mary = Senior(name="Mary Smith", phone_number=MARY, timezone="America/Chicago")
        session.add(mary)
        await session.flush()
        contacts = [
            Caregiver(
                senior_id=mary.id,
                position=0,
                name="Tom Smith",
                relation="son",
                phone_number=TOM,
                contact_by=ContactMethod.CALL,
            ),
            Caregiver(
                senior_id=mary.id,
                position=1,
                name="Susan Smith",
                relation="daughter",
                phone_number=SUSAN,
                contact_by=ContactMethod.SMS,
            ),
            Caregiver(
                senior_id=mary.id,
                position=2,
                name="Ann Lee",
                relation="neighbour",
                phone_number=ANN,
                contact_by=ContactMethod.SMS,
            ),
        ]
        session.add_all(contacts)
        await session.flush()
        world.senior_id = mary.id
        world.caregivers = {c.name: c.id for c in contacts}
    yield world


async def _sleep_run(
    world: World, levels: Sequence[int | None], quote: str = ""
) -> list[list[Alert]]:
    """A call per level (sleep only), checking trends after each, as RecordJobs does."""
    raised = []
    for level in levels:
        evidence = {"sleep": quote or f"sleep level {level}"} if level is not None else {}
        await world.add_call({"sleep": level}, evidence)
        raised.append(await world.service.check_trends(world.senior_id))
    return raised


# --- trends --------------------------------------------------------------------------------------


async def test_a_run_of_worse_calls_raises_one_trend_alert_and_texts_the_caregiver(
    world: World,
) -> None:
    raised = await _sleep_run(world, [0, 1], "slept fine")
    assert raised == [[], []]
    assert world.texts() == []

    last_call = await world.add_call({"sleep": 2, "mood": 0}, {"sleep": "I only slept two hours"})
    [alert] = await world.service.check_trends(world.senior_id)

    reason = (
        "Mary's sleep has got worse over the last 3 calls (sleeping well, then some poor "
        "nights, then sleeping badly): “I only slept two hours”."
    )
    assert (alert.kind, alert.category, alert.detector, alert.severity) == (
        "trend",
        "sleep",
        "trend",
        "medium",
    )
    assert (alert.reason, alert.evidence, alert.call_id) == (
        reason,
        "I only slept two hours",
        last_call,
    )
    assert alert.acknowledged_at is None
    # The first caregiver who takes texts (Tom is told by phone call), and only her.
    assert world.texts() == [(SUSAN, f"Sunny Care: {reason} Please check in with Mary soon.")]
    [notice] = alert.notices
    assert (notice.contact_name, notice.to_number, notice.error) == ("Susan Smith", SUSAN, None)
    assert notice.twilio_sid is not None and notice.twilio_sid.startswith("SM")
    assert notice.caregiver_id == world.caregivers["Susan Smith"]
    events = [e for e in world.bus.published if e.kind == "alert.updated"]
    assert events and events[0].call_id == last_call
    assert events[0].data == {
        "senior_id": world.senior_id,
        "alert_id": alert.id,
        "kind": "trend",
        "category": "sleep",
        "state": "open",
    }

    # Still bad on the next call: the open alert is not raised again, nobody texted again.
    assert await _sleep_run(world, [2, 3]) == [[], []]
    assert len(await world.alerts()) == 1
    assert len(world.texts()) == 1


@pytest.mark.parametrize(
    "levels",
    [
        [2, 1, 0],  # improving
        [0, 0, 0],  # steady and good
        [2, 2, 2],  # steady, no worse
        [0, 0, 1],  # worse, but only fair
        [1, 2, 1],  # worse, then better
        [0, None, 1, None, 0],  # gaps are not calls where it got worse
    ],
)
async def test_no_alert_for_an_improving_or_steady_run(world: World, levels: list[int]) -> None:
    raised = await _sleep_run(world, levels)

    assert raised == [[] for _ in levels]
    assert await world.alerts() == []
    assert world.texts() == []


async def test_calls_where_the_measure_did_not_come_up_are_skipped(world: World) -> None:
    raised = await _sleep_run(world, [0, None, 1, None])
    assert raised == [[], [], [], []]  # no record discussing sleep: not judged

    [alert] = (await _sleep_run(world, [2], "up half the night"))[0]

    assert alert.reason.startswith("Mary's sleep has got worse over the last 3 calls")


async def test_crossing_the_threshold_raises_an_alert(world: World) -> None:
    assert await _sleep_run(world, [1]) == [[]]

    [[alert]] = await _sleep_run(world, [3], "I haven't slept for days")

    assert alert.severity == "high"
    assert alert.reason == (
        "Mary's sleep has reached “hardly sleeping” (the call before: some poor nights): "
        "“I haven't slept for days”."
    )
    assert world.texts() == [
        (SUSAN, f"Sunny Care: {alert.reason} Please check in with Mary soon."),
    ]

    # Staying there is not a new crossing, even once acknowledged.
    assert await world.service.acknowledge(alert.id, by="nurse@example.org") is not None
    assert await _sleep_run(world, [3, 3]) == [[], []]
    # Down and up again is.
    [_, [again]] = await _sleep_run(world, [1, 3])
    assert again.id != alert.id


async def test_a_measure_can_have_its_own_threshold(
    world: World, make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(
        database_url=database_url, organization_name="Sunny Care", alert_thresholds="pain=2"
    )
    world.service = world.service_for(world.engine, settings)

    await world.add_call({"pain": 0, "sleep": 0}, {"pain": "no pain", "sleep": "fine"})
    assert await world.service.check_trends(world.senior_id) == []
    await world.add_call({"pain": 2, "sleep": 2}, {"pain": "my knee hurts", "sleep": "badly"})
    [alert] = await world.service.check_trends(world.senior_id)

    assert alert.category == "pain"
    assert alert.reason == (
        "Mary's pain has reached “pain that gets in the way” (the call before: no pain): "
        "“my knee hurts”."
    )


async def test_after_acknowledging_a_new_worsening_alerts_again(world: World) -> None:
    [_, _, [first]] = await _sleep_run(world, [0, 1, 2])
    acknowledged = await world.service.acknowledge(first.id, by="nurse@example.org")
    assert acknowledged is not None and acknowledged.acknowledged_by == "nurse@example.org"
    assert await world.service.acknowledge(first.id, by="someone else") is None

    # The same worsening, still there on the next call, was told already.
    assert await _sleep_run(world, [2]) == [[]]
    # Worse again from there: a new alert, and a new text.
    [[second]] = await _sleep_run(world, [3], "I can't sleep at all now")

    assert second.id != first.id
    assert second.reason.startswith(
        "Mary's sleep has got worse over the last 3 calls (sleeping badly, then sleeping "
        "badly, then hardly sleeping)"
    )
    assert [to for to, _ in world.texts()] == [SUSAN, SUSAN]
    states = [(a.id, a.acknowledged_at is None) for a in await world.alerts()]
    assert states == [(first.id, False), (second.id, True)]


async def test_two_processes_checking_at_once_raise_one_alert(
    world: World, database_url: str
) -> None:
    await _sleep_run(world, [0, 1])
    await world.add_call({"sleep": 2}, {"sleep": "slept badly"})
    other_engine = create_engine(database_url)
    try:
        other = world.service_for(other_engine)
        results = await asyncio.gather(
            world.service.check_trends(world.senior_id), other.check_trends(world.senior_id)
        )
    finally:
        await other_engine.dispose()

    assert sorted(len(found) for found in results) == [0, 1]
    assert len(await world.alerts()) == 1
    assert len(world.texts()) == 1


def test_the_trend_rule_reads_levels_oldest_first() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    history = [
        CallLevels(i + 1, start + timedelta(days=i), {"mood": level}, {"mood": f"said {i}"})
        for i, level in enumerate([0, 1, 1, 2])
    ]

    [finding] = find_trends(history, worse_calls=3, threshold_for=lambda _m: 3)
    assert (finding.measure, finding.how, finding.levels, finding.call_id) == (
        "mood",
        "worse",
        (1, 1, 2),
        4,
    )
    assert finding.evidence == "said 3" and not finding.crossed
    # Four calls in a row asked for: 0, 1, 1, 2 is one.
    assert find_trends(history, worse_calls=4, threshold_for=lambda _m: 3)[0].levels == (
        0,
        1,
        1,
        2,
    )
    # A run that began before the call the last alert was raised on is not told again.
    assert (
        find_trends(history, worse_calls=3, threshold_for=lambda _m: 3, alerted_calls={"mood": 3})
        == []
    )


# --- red flags -----------------------------------------------------------------------------------


async def test_a_red_flag_is_stored_published_and_texted_within_two_seconds(world: World) -> None:
    call_id = await world.add_call()
    started = time.monotonic()

    world.service.red_flag_soon(
        call_id=call_id,
        senior_id=world.senior_id,
        category="fall",
        evidence="I fell and can't get up",
        detector="rules",
        advice=FALL_ADVICE,
    )
    scheduled_in = time.monotonic() - started
    await world.service.aclose()  # waits for the background alert

    assert scheduled_in < 0.05, f"red_flag_soon took {scheduled_in:.3f} s"
    texted_in = [at - started for at in world.twilio.texted_at]
    assert len(texted_in) == 2 and max(texted_in) < 2.0, texted_in
    body = (
        "Sunny Care: URGENT — during today's call Mary said “I fell and can't get up”. "
        "We advised calling 911. Please check on Mary now."
    )
    # Everyone who takes texts; Tom (by phone call) is not texted.
    assert sorted(world.texts()) == [(SUSAN, body), (ANN, body)]
    [alert] = await world.alerts()
    assert (alert.kind, alert.category, alert.severity, alert.detector) == (
        "red_flag",
        "fall",
        "urgent",
        "rules",
    )
    assert alert.reason == "Red flag on the call (a fall). Mary said “I fell and can't get up”."
    assert (alert.call_id, alert.senior_id, alert.evidence) == (
        call_id,
        world.senior_id,
        "I fell and can't get up",
    )
    notices = await world.notices()
    assert sorted((n.to_number, n.error is None, bool(n.twilio_sid)) for n in notices) == [
        (SUSAN, True, True),
        (ANN, True, True),
    ]
    events = [e for e in world.bus.published if e.kind == "alert.updated"]
    assert events[0].call_id == call_id and events[0].data["kind"] == "red_flag"
    assert events[0].data["alert_id"] == alert.id


async def test_a_red_flag_is_raised_once_per_call_and_category(world: World) -> None:
    call_id = await world.add_call()
    flag: dict[str, Any] = {
        "call_id": call_id,
        "senior_id": world.senior_id,
        "category": "self_harm",
        "evidence": "nobody would miss me",
        "detector": "rules",
        "advice": "You can call or text 9 8 8 at any time.",
    }

    first = await world.service.raise_red_flag(**flag)
    second = await world.service.raise_red_flag(**{**flag, "detector": "llm"})

    assert first is not None and second is None
    assert [body for _, body in world.texts()] == [
        "Sunny Care: URGENT — during today's call Mary said “nobody would miss me”. "
        "We gave them the 988 crisis line. Please check on Mary now."
    ] * 2  # Susan and Ann, once each
    # A later call's red flag of the same kind is a new one.
    assert await world.service.raise_red_flag(**{**flag, "call_id": await world.add_call()})


async def test_a_text_twilio_refuses_is_stored_with_its_error_and_nothing_is_raised(
    world: World,
) -> None:
    call_id = await world.add_call()
    world.twilio.queue_error(400, 21614, "'To' number is not a valid mobile number")
    for _ in range(REQUEST_ATTEMPTS):  # a 503 is retried: this one lasts through every try
        world.twilio.queue_error(503, 20003, "Service unavailable")

    alert = await world.service.raise_red_flag(
        call_id=call_id,
        senior_id=world.senior_id,
        category="chest_pain",
        evidence="my chest feels so tight",
        detector="llm",
        advice=FALL_ADVICE,
    )

    assert alert is not None
    errors = sorted(n.error or "" for n in alert.notices)
    assert errors == [
        "This phone number can't receive text messages (it isn't a mobile number).",
        "Twilio could not send a text message: Unable to create record: Service unavailable "
        "(Twilio error 20003)",
    ]
    assert all(n.twilio_sid is None for n in alert.notices)
    assert {n.to_number for n in await world.notices()} == {SUSAN, ANN}


async def test_without_twilio_the_red_flag_is_kept_and_why_it_was_not_texted(
    world: World, make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(database_url=database_url, twilio_account_sid=None)
    service = world.service_for(world.engine, settings)
    call_id = await world.add_call()

    alert = await service.raise_red_flag(
        call_id=call_id,
        senior_id=world.senior_id,
        category="fall",
        evidence="I'm on the floor",
        detector="rules",
        advice=FALL_ADVICE,
    )

    assert alert is not None and len(alert.notices) == 2
    assert all("TWILIO_ACCOUNT_SID" in (n.error or "") for n in alert.notices)
    assert world.texts() == []


async def test_a_red_flag_never_raises_into_its_caller(world: World, tmp_path: Path) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    try:
        service = world.service_for(broken)
        result = await service.raise_red_flag(
            call_id=1,
            senior_id=world.senior_id,
            category="fall",
            evidence="I fell",
            detector="rules",
            advice=FALL_ADVICE,
        )
    finally:
        await broken.dispose()

    assert result is None
    assert world.texts() == []


async def test_a_red_flag_on_a_number_not_on_the_roster_is_kept(world: World) -> None:
    call_id = await world.add_call()

    alert = await world.service.raise_red_flag(
        call_id=call_id,
        senior_id=None,
        category="breathing",
        evidence="I can't breathe",
        detector="rules",
        advice=FALL_ADVICE,
    )

    assert alert is not None and alert.senior_id is None
    assert alert.reason == (
        "Red flag on the call (trouble breathing). The caller said “I can't breathe”."
    )
    assert world.texts() == []
    async with create_session_factory(world.engine)() as session:
        assert (await session.execute(select(func.count(AlertNotice.id)))).scalar_one() == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pain=4", "the level of pain must be 1, 2 or 3"),
        ("happiness=2", "'happiness' is not a measure"),
        ("pain", "the level of pain must be 1, 2 or 3"),
    ],
)
def test_a_wrong_alert_threshold_is_refused_with_what_is_wrong(
    make_settings: Callable[..., Settings], value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(alert_thresholds=value)


def test_per_measure_thresholds_override_the_default(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(alert_threshold=3, alert_thresholds=" pain=2, confusion=1 ")

    assert [settings.threshold_for(m) for m in ("pain", "confusion", "sleep")] == [2, 1, 3]


async def test_without_a_caregiver_who_takes_texts_the_first_one_is_texted(world: World) -> None:
    async with create_session_factory(world.engine).begin() as session:
        await session.execute(delete(Caregiver).where(Caregiver.contact_by == ContactMethod.SMS))
    call_id = await world.add_call()

    alert = await world.service.raise_red_flag(
        call_id=call_id,
        senior_id=world.senior_id,
        category="stroke",
        evidence="",
        detector="llm",
        advice=FALL_ADVICE,
    )

    assert alert is not None
    assert world.texts() == [
        (
            TOM,
            "Sunny Care: URGENT — during today's call Mary spoke of signs of a stroke. "
            "We advised calling 911. Please check on Mary now.",
        )
    ]


async def test_a_red_flag_in_a_talk_in_the_browser_is_kept_and_listed_with_its_call(
    world: World,
) -> None:
    """A talk in the browser (or a demo call) is for no one: its red flag is stored with the
    call, listed among the open alerts and on the call with the call's channel, texted to
    no one."""
    async with create_session_factory(world.engine).begin() as session:
        talk = Call(to_number="", status=CallStatus.IN_PROGRESS, channel=CallChannel.BROWSER)
        session.add(talk)
        await session.flush()
        talk_id = talk.id
    other_call = await world.add_call()

    alert = await world.service.raise_red_flag(
        call_id=talk_id,
        senior_id=None,
        category="fall",
        evidence="I fell in the kitchen",
        detector="rules",
        advice=FALL_ADVICE,
    )

    assert alert is not None and (alert.senior_id, alert.call_id) == (None, talk_id)
    assert world.texts() == []
    repository = world.service.repository
    (on_the_call,) = await repository.for_call(talk_id)
    assert on_the_call.alert.id == alert.id
    assert (on_the_call.senior, on_the_call.channel) == (None, CallChannel.BROWSER)
    assert await repository.for_call(other_call) == []
    (open_one,) = [found for found in await repository.open_alerts() if found.alert.id == alert.id]
    assert open_one.channel is CallChannel.BROWSER


# --- in the person's language ---------------------------------------------------------------


async def _speaks_spanish(world: World) -> None:
    async with create_session_factory(world.engine).begin() as session:
        await session.execute(
            update(Senior).where(Senior.id == world.senior_id).values(language="es")
        )


async def test_a_red_flag_is_texted_in_the_person_s_language(world: World) -> None:
    await _speaks_spanish(world)
    call_id = await world.add_call()
    world.service.red_flag_soon(
        call_id=call_id,
        senior_id=world.senior_id,
        category="fall",
        evidence="Me caí en el baño y no me puedo levantar",
        detector="llm",
        advice=advice_for(RedFlagCategory.FALL, "es"),
    )
    await world.service.aclose()
    body = (
        "Sunny Care: URGENTE — en la llamada de hoy, Mary dijo «Me caí en el baño y no me puedo "
        "levantar». Le aconsejamos llamar al 911. Por favor, asegúrese ahora mismo de que Mary "
        "esté bien."
    )
    assert sorted(world.texts()) == [(SUSAN, body), (ANN, body)]
    [alert] = await world.alerts()
    # The dashboard's words stay English; the quote is the person's own.
    assert alert.reason == (
        "Red flag on the call (a fall). Mary said “Me caí en el baño y no me puedo levantar”."
    )


async def test_a_red_flag_without_words_names_what_it_was_in_spanish(world: World) -> None:
    await _speaks_spanish(world)
    call_id = await world.add_call()
    await world.service.raise_red_flag(
        call_id=call_id,
        senior_id=world.senior_id,
        category="self_harm",
        evidence="",
        detector="llm",
        advice=advice_for(RedFlagCategory.SELF_HARM, "es"),
    )
    [(_, body), _] = world.texts()
    assert "Mary habló de pensamientos de hacerse daño." in body
    assert "Le dimos el número de la línea de crisis 988." in body


async def test_a_trend_is_texted_in_the_person_s_language(world: World) -> None:
    await _speaks_spanish(world)
    await _sleep_run(world, [0, 1], "dormí bien")
    await world.add_call({"sleep": 2}, {"sleep": "solo dormí dos horas"})
    [alert] = await world.service.check_trends(world.senior_id)
    assert alert.reason.startswith("Mary's sleep has got worse over the last 3 calls")
    assert world.texts() == [
        (
            SUSAN,
            "Sunny Care: El sueño de Mary ha empeorado en las últimas 3 llamadas (duerme bien, "
            "luego algunas malas noches, luego duerme mal): «solo dormí dos horas». Por favor, "
            "llame pronto a Mary.",
        )
    ]


async def test_a_language_carecall_lacks_is_texted_in_english(world: World) -> None:
    async with create_session_factory(world.engine).begin() as session:
        await session.execute(
            update(Senior).where(Senior.id == world.senior_id).values(language="fr")
        )
    call_id = await world.add_call()
    await world.service.raise_red_flag(
        call_id=call_id,
        senior_id=world.senior_id,
        category="fall",
        evidence="Je suis tombée",
        detector="llm",
        advice=FALL_ADVICE,
    )
    assert all("URGENT — during today's call" in body for _, body in world.texts())
