"""The post-call record worker on real SQLite and PostgreSQL, with the real `openai` SDK against a
fake OpenAI-compatible server and a test clock: queued when a call completes, made off the call
path, retried with backoff, failed with its reason (the transcript untouched), picked up after a
restart, never made twice by two workers; the memory digest stays bounded; and the pages show
the record and the digest after a call ends through Twilio's signed status webhook."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from loguru import logger
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import (
    Call,
    CallChannel,
    CallRecord,
    CallStatus,
    ConversationTurn,
    RecordJob,
    RecordJobState,
    Senior,
)
from carecall.persistence.repositories import CallRepository, StatusUpdate
from carecall.persistence.wellbeing import WellbeingRepository
from carecall.settings import Settings
from carecall.wellbeing.jobs import DEFAULT_SETTLE_SECONDS, RecordJobs, RecordMade
from carecall.wellbeing.memory import MAX_DIGEST_CHARS, MAX_FOLLOW_UPS
from tests.api.support import add_operator, log_in, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.checkins.program import running_program
from tests.wellbeing.conversations import (
    JOHN,
    JOHN_ANSWER,
    JOHN_LEVELS,
    MARY,
    MARY_ANSWER,
    MARY_LEVELS,
    A,
    Line,
    P,
    turns_of,
)
from tests.wellbeing.fake_llm import FakeLLM, running_fake_llm

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with running_fake_llm() as fake:
        fake.reply_when("granddaughter Emma", MARY_ANSWER)
        fake.reply_when("heart pills", JOHN_ANSWER)
        yield fake


@dataclass
class World:
    """Repositories over one database, a test clock, and the workers made so far."""

    engine: AsyncEngine
    settings: Settings
    clock: FakeClock
    calls: CallRepository
    repo: WellbeingRepository
    workers: list[RecordJobs] = field(default_factory=list)
    calls_made: int = 0
    seniors_made: int = 0

    def worker(
        self, name: str, repo: WellbeingRepository | None = None, **options: Any
    ) -> RecordJobs:
        jobs = RecordJobs(self.settings, repo or self.repo, self.clock, name=name, **options)
        self.workers.append(jobs)
        return jobs

    async def senior(self, name: str = "Mary Smith", tz: str = "America/Chicago") -> int:
        async with create_session_factory(self.engine).begin() as session:
            self.seniors_made += 1
            phone = f"+131255502{self.seniors_made:02d}"
            senior = Senior(name=name, phone_number=phone, timezone=tz)
            session.add(senior)
        return senior.id

    async def ended_call(
        self,
        lines: Sequence[Line],
        *,
        senior_id: int | None = None,
        status: CallStatus = CallStatus.COMPLETED,
    ) -> Call:
        """A call that was answered, said `lines`, and reached `status` (Twilio's callback)."""
        self.calls_made += 1
        call = await self.calls.create("+13125550101", "+15005550006", senior_id=senior_id)
        sid = f"CA{self.calls_made:032d}"
        await self.calls.mark_placed(call.id, sid, CallStatus.IN_PROGRESS)
        await self.calls.add_turns(turns_of(call.id, lines, self.clock.now()))
        ended, changed = await self.calls.apply_status(StatusUpdate(sid, status))
        assert ended is not None and changed
        return ended

    async def job(self, call_id: int) -> RecordJob:
        job = await self.repo.job_for(call_id)
        assert job is not None, f"no job for call {call_id}"
        return job

    async def transcript(self, call_id: int) -> list[tuple[int, str, str]]:
        async with create_session_factory(self.engine)() as session:
            rows = await session.execute(
                select(ConversationTurn.sequence, ConversationTurn.role, ConversationTurn.text)
                .where(ConversationTurn.call_id == call_id)
                .order_by(ConversationTurn.sequence)
            )
            return [(seq, role.value, text) for seq, role, text in rows.all()]

    async def count(self, model: type[Any]) -> int:
        async with create_session_factory(self.engine)() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.fixture
async def world(
    engine: AsyncEngine,
    make_settings: Callable[..., Settings],
    database_url: str,
    fake_llm: FakeLLM,
) -> AsyncIterator[World]:
    sessions = create_session_factory(engine)
    world = World(
        engine=engine,
        settings=make_settings(database_url=database_url, openai_base_url=fake_llm.base_url),
        clock=FakeClock(START),
        calls=CallRepository(sessions),
        repo=WellbeingRepository(sessions),
    )
    yield world
    for worker in world.workers:
        await worker.stop()


# --- one call ------------------------------------------------------------------------------------


async def test_a_completed_conversation_gets_its_record_and_the_persons_memory(
    world: World, fake_llm: FakeLLM
) -> None:
    jobs = world.worker("worker-1")
    made: list[RecordMade] = []

    async def told(record: RecordMade) -> None:
        made.append(record)

    async def broken(_record: RecordMade) -> None:
        raise RuntimeError("a listener's bug")

    jobs.on_record_made(broken)
    jobs.on_record_made(told)
    senior_id = await world.senior()
    call = await world.ended_call(MARY, senior_id=senior_id)
    said = await world.transcript(call.id)

    await jobs.call_ended(call)

    job = await world.job(call.id)
    assert job.state is RecordJobState.PENDING
    assert await jobs.run_once() == 0  # the last turns may still be on their way
    assert fake_llm.chat_count == 0

    world.clock.advance(seconds=DEFAULT_SETTLE_SECONDS)
    assert await jobs.run_once() == 1

    job = await world.job(call.id)
    assert (job.state, job.attempts) == (RecordJobState.DONE, 1)
    record = await world.repo.record_for(call.id)
    assert record is not None
    assert {name: getattr(record, name) for name in MARY_LEVELS} == MARY_LEVELS
    assert record.senior_id == senior_id
    assert record.evidence["pain"] == "my knee was sore most of the night"
    assert record.summary == MARY_ANSWER["summary"]
    assert record.follow_ups == MARY_ANSWER["follow_ups"]
    assert record.model == "gpt-4o"

    digest = await world.repo.digest_for(senior_id)
    assert digest is not None
    assert "Mary was in good spirits" in digest
    assert "- her granddaughter Emma visited on Sunday (" in digest
    assert await world.transcript(call.id) == said
    assert [(m.call_id, m.senior_id, m.record.levels()) for m in made] == [
        (call.id, senior_id, MARY_LEVELS)
    ]
    assert await jobs.run_once() == 0  # done once


async def test_only_completed_calls_are_queued_and_only_once(world: World) -> None:
    jobs = world.worker("worker-1")
    busy = await world.ended_call([], status=CallStatus.BUSY)
    failed = await world.ended_call(MARY, status=CallStatus.FAILED)
    completed = await world.ended_call(MARY)

    for call in (busy, failed, completed, completed):
        await jobs.call_ended(call)

    assert await world.repo.job_for(busy.id) is None
    assert await world.repo.job_for(failed.id) is None
    assert await world.count(RecordJob) == 1


async def test_a_call_where_the_person_said_nothing_is_skipped(
    world: World, fake_llm: FakeLLM
) -> None:
    jobs = world.worker("worker-1")
    call = await world.ended_call([Line(A, "Hello? Is anyone there?"), Line(A, "Goodbye.")])
    await jobs.call_ended(call)

    world.clock.advance(minutes=1)
    assert await jobs.run_once() == 1

    job = await world.job(call.id)
    assert job.state is RecordJobState.SKIPPED
    assert job.last_error == "The person said nothing on this call."
    assert fake_llm.chat_count == 0
    assert await world.repo.record_for(call.id) is None


MACHINE_GREETING = [
    Line(A, "Hello Walt, this is Sunny."),
    Line(P, "Hello, you have reached the Miller residence. Please leave a message."),
    Line(A, "Sorry we missed you; we'll try again a little later. Take care!"),
]


async def test_a_call_an_answering_machine_took_gets_no_record(
    world: World, fake_llm: FakeLLM
) -> None:
    """The machine's greeting is not the person's words: whether Twilio's verdict or the bot's
    voicemail message says so, no record is queued, caught up, or (verdict after the queueing)
    asked of the model."""
    world.clock.set(datetime.now(UTC))  # calls end on the database's clock (the catch-up)
    jobs = world.worker("worker-1")
    by_verdict = await world.ended_call(MACHINE_GREETING)
    await world.calls.note_answered_by(f"CA{world.calls_made:032d}", "machine_end_beep")
    by_message = await world.ended_call(MACHINE_GREETING)  # no verdict came; the bot left it
    await world.calls.note_end_reason(by_message.id, "voicemail")
    late_verdict = await world.ended_call(MACHINE_GREETING)
    person = await world.ended_call(MARY)

    for call in (by_verdict, by_message, late_verdict, person):
        fresh = await world.calls.get(call.id)
        assert fresh is not None
        await jobs.call_ended(fresh)
    assert await world.repo.job_for(by_verdict.id) is None
    assert await world.repo.job_for(by_message.id) is None
    assert await jobs.catch_up(world.clock.now()) == 0  # nor queued later

    # The verdict came after the call's job was queued: the job is skipped, the model unasked.
    await world.calls.note_answered_by(f"CA{world.calls_made - 1:032d}", "machine_end_silence")
    world.clock.advance(seconds=DEFAULT_SETTLE_SECONDS)
    assert await jobs.run_once() == 2
    job = await world.job(late_verdict.id)
    assert job.state is RecordJobState.SKIPPED
    assert job.last_error == "An answering machine took this call."
    assert await world.repo.record_for(late_verdict.id) is None
    assert (await world.job(person.id)).state is RecordJobState.DONE
    assert fake_llm.chat_count == 1  # Mary's record alone


@pytest.mark.parametrize(
    ("off", "why"),
    [
        (
            {"openai_api_key": None, "openai_base_url": None, "services": "auto"},
            "no language model is configured",
        ),
        ({"wellbeing_records": False}, "WELLBEING_RECORDS is off"),
    ],
)
async def test_switched_off_nothing_is_queued_and_the_log_says_so_once(
    engine: AsyncEngine,
    make_settings: Callable[..., Settings],
    database_url: str,
    off: dict[str, Any],
    why: str,
) -> None:
    sessions = create_session_factory(engine)
    settings = make_settings(database_url=database_url, **off)
    world = World(
        engine, settings, FakeClock(START), CallRepository(sessions), WellbeingRepository(sessions)
    )
    jobs = world.worker("worker-1")
    said: list[str] = []
    sink = logger.add(lambda message: said.append(str(message)), level="INFO")
    try:
        await jobs.start()
        for _ in range(3):
            await jobs.call_ended(await world.ended_call(MARY))
        assert await jobs.run_once() == 0
    finally:
        logger.remove(sink)
        await jobs.stop()

    assert not jobs.enabled
    assert await world.count(RecordJob) == 0
    told = [line for line in said if "No wellbeing records are made" in line]
    assert len(told) == 1
    assert why in told[0]


async def test_conversations_left_without_a_job_are_queued_by_the_worker(
    world: World, fake_llm: FakeLLM
) -> None:
    # Calls end on the database's clock: the worker's clock must be the real time here.
    world.clock.set(datetime.now(UTC))
    # Its final status was stored, but the job was never queued (the listener failed).
    lost = await world.ended_call(MARY)
    silent = await world.ended_call([Line(A, "Hello? Is anyone there?")])
    # A talk in the browser ends without Twilio, so without the listener.
    browser = await world.calls.create("browser", None, channel=CallChannel.BROWSER)
    await world.calls.mark_connected(browser.id)
    await world.calls.add_turns(turns_of(browser.id, JOHN, world.clock.now()))
    await world.calls.mark_finished(browser.id)

    two_days_later = world.clock.now() + timedelta(hours=49)
    assert await world.worker("later").catch_up(two_days_later) == 0  # too old: left alone

    jobs = world.worker("worker-1")
    assert await jobs.run_once() == 0  # queued, due once the last turns are surely written
    assert (await world.job(lost.id)).state is RecordJobState.PENDING
    assert (await world.job(browser.id)).state is RecordJobState.PENDING
    assert await world.repo.job_for(silent.id) is None

    world.clock.advance(seconds=DEFAULT_SETTLE_SECONDS)
    assert await jobs.run_once() == 2
    assert await world.count(CallRecord) == 2
    assert await jobs.catch_up(world.clock.now()) == 0  # each call once


# --- failures ------------------------------------------------------------------------------------


async def test_a_failing_model_is_tried_again_with_growing_delays_then_succeeds(
    world: World, fake_llm: FakeLLM
) -> None:
    jobs = world.worker("worker-1", retry_base_seconds=30)
    call = await world.ended_call(JOHN)
    await jobs.call_ended(call)
    fake_llm.fail(times=2, status=500, message="Upstream is down")
    world.clock.advance(seconds=DEFAULT_SETTLE_SECONDS)

    assert await jobs.run_once() == 1
    job = await world.job(call.id)
    assert (job.state, job.attempts) == (RecordJobState.PENDING, 1)
    assert job.last_error == "The language model answered HTTP 500: Upstream is down"
    assert _utc(job.next_try_at) == world.clock.now() + timedelta(seconds=30)

    world.clock.advance(seconds=29)
    assert await jobs.run_once() == 0
    world.clock.advance(seconds=1)
    assert await jobs.run_once() == 1
    job = await world.job(call.id)
    assert (job.state, job.attempts) == (RecordJobState.PENDING, 2)
    assert _utc(job.next_try_at) == world.clock.now() + timedelta(seconds=60)

    world.clock.advance(seconds=59)
    assert await jobs.run_once() == 0
    world.clock.advance(seconds=1)
    assert await jobs.run_once() == 1

    job = await world.job(call.id)
    assert (job.state, job.attempts) == (RecordJobState.DONE, 3)
    record = await world.repo.record_for(call.id)
    assert record is not None
    assert {name: getattr(record, name) for name in JOHN_LEVELS} == JOHN_LEVELS
    assert fake_llm.chat_count == 3


async def test_a_model_that_keeps_failing_ends_failed_with_the_reason_and_the_transcript_kept(
    world: World, fake_llm: FakeLLM, make_settings: Callable[..., Settings], database_url: str
) -> None:
    world.settings = make_settings(
        database_url=database_url, openai_base_url=fake_llm.base_url, record_max_attempts=3
    )
    jobs = world.worker("worker-1", retry_base_seconds=10)
    senior_id = await world.senior()
    call = await world.ended_call(MARY, senior_id=senior_id)
    said = await world.transcript(call.id)
    await jobs.call_ended(call)
    fake_llm.fail(times=10, status=502, message="Bad gateway")

    for _ in range(6):
        world.clock.advance(minutes=10)
        await jobs.run_once()

    job = await world.job(call.id)
    assert (job.state, job.attempts) == (RecordJobState.FAILED, 3)
    assert job.last_error == "The language model answered HTTP 502: Bad gateway"
    assert job.finished_at is not None
    assert fake_llm.chat_count == 3
    assert await world.repo.record_for(call.id) is None
    assert await world.repo.digest_for(senior_id) is None
    assert await world.transcript(call.id) == said
    stored = await world.calls.get(call.id)
    assert stored is not None and stored.status is CallStatus.COMPLETED


async def test_an_answer_that_never_fits_the_schema_fails_with_what_was_wrong(
    world: World, fake_llm: FakeLLM, make_settings: Callable[..., Settings], database_url: str
) -> None:
    world.settings = make_settings(
        database_url=database_url, openai_base_url=fake_llm.base_url, record_max_attempts=1
    )
    jobs = world.worker("worker-1")
    call = await world.ended_call(MARY)
    await jobs.call_ended(call)
    for _ in range(2):
        fake_llm.reply({"mood": {"level": 9, "evidence": "I'm quite well"}})
    world.clock.advance(minutes=1)

    await jobs.run_once()

    job = await world.job(call.id)
    assert job.state is RecordJobState.FAILED
    assert job.last_error is not None
    assert job.last_error.startswith("The answer does not fit the schema: mood.level")


# --- restarts and two workers --------------------------------------------------------------------


@asynccontextmanager
async def second_process(database_url: str) -> AsyncIterator[WellbeingRepository]:
    """The same database through another engine, as another server process has it."""
    engine = create_engine(database_url)
    try:
        yield WellbeingRepository(create_session_factory(engine))
    finally:
        await engine.dispose()


async def test_a_pending_job_is_picked_up_after_a_restart(
    world: World, database_url: str, fake_llm: FakeLLM
) -> None:
    before = world.worker("before-restart")
    call = await world.ended_call(MARY)
    await before.call_ended(call)
    await before.stop()  # the server stops before the job was due

    world.clock.advance(minutes=1)
    async with second_process(database_url) as repo:
        after = world.worker("after-restart", repo)
        await after.start()  # the background loop, as the server runs it
        for _ in range(200):
            if (await world.job(call.id)).state is RecordJobState.DONE:
                break
            await asyncio.sleep(0.05)
        await after.stop()

    assert (await world.job(call.id)).state is RecordJobState.DONE
    assert await world.repo.record_for(call.id) is not None
    assert fake_llm.chat_count == 1


async def test_a_job_held_by_a_worker_that_died_is_taken_back_after_its_lease(
    world: World, database_url: str, fake_llm: FakeLLM
) -> None:
    call = await world.ended_call(MARY)
    dead = world.worker("dead", lease=timedelta(minutes=10))
    await dead.call_ended(call)
    world.clock.advance(minutes=1)
    [claim] = await world.repo.claim_due(world.clock.now(), "dead", 4, lease=dead.lease)
    # ... and the process dies here, the model never asked.

    async with second_process(database_url) as repo:
        alive = world.worker("alive", repo, lease=timedelta(minutes=10))
        world.clock.advance(minutes=9)
        assert await alive.run_once() == 0  # still within the dead worker's lease
        world.clock.advance(minutes=2)
        assert await alive.run_once() == 1

    job = await world.job(call.id)
    assert (job.state, job.attempts) == (RecordJobState.DONE, 2)
    # The first worker's claim is gone: whatever it would still write is refused.
    late = await world.repo.store_record(
        claim,
        "dead",
        senior_id=None,
        model="gpt-4o",
        levels={},
        evidence={},
        summary="A late record.",
        follow_ups=[],
        now=world.clock.now(),
    )
    assert late is False
    assert await world.repo.fail(claim, "dead", "late", world.clock.now()) is False
    assert await world.count(CallRecord) == 1
    assert (await world.job(call.id)).state is RecordJobState.DONE


async def test_two_workers_never_make_the_same_record(
    world: World, database_url: str, fake_llm: FakeLLM
) -> None:
    calls = [await world.ended_call(MARY if i % 2 else JOHN) for i in range(12)]
    for call in calls:
        await world.worker("queue").call_ended(call)
    world.clock.advance(minutes=1)

    async with second_process(database_url) as other:
        first = world.worker("first", batch=3)
        second = world.worker("second", other, batch=3)
        claimed = [0, 0]
        while True:
            done = await asyncio.gather(first.run_once(), second.run_once())
            claimed = [claimed[0] + done[0], claimed[1] + done[1]]
            if done == [0, 0]:
                break

    assert sum(claimed) == 12
    assert fake_llm.chat_count == 12
    assert await world.count(CallRecord) == 12
    for call in calls:
        job = await world.job(call.id)
        assert (job.state, job.attempts) == (RecordJobState.DONE, 1)


async def test_of_two_simultaneous_claims_on_one_job_exactly_one_wins(
    world: World, database_url: str
) -> None:
    call = await world.ended_call(MARY)
    await world.worker("queue").call_ended(call)
    world.clock.advance(minutes=1)

    async with second_process(database_url) as other:
        results = await asyncio.gather(
            *(
                repo.claim_due(world.clock.now(), f"worker-{i}", 4, lease=timedelta(minutes=10))
                for i, repo in enumerate([world.repo, other, world.repo, other])
            )
        )

    assert sorted(len(claims) for claims in results) == [0, 0, 0, 1]
    job = await world.job(call.id)
    assert (job.state, job.attempts) == (RecordJobState.RUNNING, 1)


# --- memory over many calls ----------------------------------------------------------------------


async def test_the_digest_stays_bounded_and_newest_first_over_many_calls(
    world: World, fake_llm: FakeLLM
) -> None:
    jobs = world.worker("worker-1", batch=1)
    senior_id = await world.senior()
    for i in range(12):
        fake_llm.reply({**MARY_ANSWER, "follow_ups": [f"topic {i}a", f"topic {i}b"]})
        call = await world.ended_call(MARY, senior_id=senior_id)
        await jobs.call_ended(call)
        world.clock.advance(minutes=1)
        assert await jobs.run_once() == 1

        digest = await world.repo.digest_for(senior_id)
        assert digest is not None
        assert len(digest) <= MAX_DIGEST_CHARS
        follow_ups = digest.split("To follow up:\n", 1)[1].splitlines()
        assert len(follow_ups) == min(MAX_FOLLOW_UPS, 2 * (i + 1))
        assert follow_ups[0].startswith(f"- topic {i}a (")

    memory = await world.repo.memory_for(senior_id)
    assert memory is not None and memory.records_seen == 12
    assert "topic 0a" not in memory.digest


async def test_a_digest_built_from_fewer_records_never_overwrites_a_newer_one(world: World) -> None:
    senior_id = await world.senior()
    now = world.clock.now()
    assert await world.repo.save_digest(senior_id, "from three calls", 3, now)
    assert not await world.repo.save_digest(senior_id, "from two calls", 2, now)
    assert await world.repo.digest_for(senior_id) == "from three calls"
    assert await world.repo.save_digest(senior_id, "from four calls", 4, now)
    assert await world.repo.digest_for(senior_id) == "from four calls"


# --- through the server: the webhook, the call page and the person's page -----------------------


def test_after_the_status_webhook_the_pages_show_the_record_and_the_memory(
    make_settings: Callable[..., Settings], database_url: str, fake_llm: FakeLLM
) -> None:
    settings = make_settings(
        database_url=database_url,
        openai_base_url=fake_llm.base_url,
        record_worker_enabled=False,  # the test runs the worker's rounds
        record_max_attempts=1,
    )
    clock = FakeClock(START)
    with running_program(settings, clock) as program:
        state = program.state
        senior = program.add_senior(name="Mary Smith", phone="+13125550101")
        add_operator(program.client)
        log_in(program.client)

        def converse(lines: Sequence[Line]) -> int:
            call = on_app_loop(
                program.client, state.call_service.place_call, senior.phone_number, senior=senior
            )
            assert call.twilio_sid is not None
            program.twilio_says(call.twilio_sid, "in-progress")
            on_app_loop(
                program.client, state.calls.add_turns, turns_of(call.id, lines, clock.now())
            )
            program.twilio_says(call.twilio_sid, "completed")
            return call.id

        # A first call whose record fails: the page says so, with the reason.
        fake_llm.fail(times=1, status=500, message="Upstream is down")
        failed_id = converse(JOHN)
        clock.advance(minutes=1)
        assert on_app_loop(program.client, state.record_jobs.run_once) == 1
        page = program.client.get(f"/calls/{failed_id}")
        assert page.status_code == 200
        assert 'data-record-state="failed"' in page.text
        assert (
            "The wellbeing record couldn't be made: "
            "The language model answered HTTP 500: Upstream is down"
        ) in page.text
        assert "Quiet. Nobody&#39;s been round all week" in page.text  # the transcript

        # A second call: being prepared until the worker has made it.
        call_id = converse(MARY)
        page = program.client.get(f"/calls/{call_id}")
        assert 'data-record-state="pending"' in page.text
        assert "The wellbeing record is being prepared" in page.text
        person = program.client.get(f"/people/{senior.id}")
        assert "Nothing yet: after each conversation" in person.text

        clock.advance(minutes=1)
        assert on_app_loop(program.client, state.record_jobs.run_once) == 1

        page = program.client.get(f"/calls/{call_id}")
        assert 'data-record-state="done"' in page.text
        assert MARY_ANSWER["summary"] in page.text
        assert 'data-measure="pain" data-level="2"' in page.text
        assert "pain that gets in the way" in page.text
        assert '<q class="record-evidence">my knee was sore most of the night</q>' in page.text
        assert 'data-measure="eating" data-level=""' in page.text
        assert "not discussed" in page.text
        assert "her granddaughter Emma visited on Sunday" in page.text

        person = program.client.get(f"/people/{senior.id}")
        assert person.status_code == 200
        assert "What the next call remembers" in person.text
        assert "Mary was in good spirits" in person.text
        assert re.search(r"- her knee was sore at night \(\w{3} \d{1,2} \w{3}\)", person.text)
        assert on_app_loop(program.client, state.wellbeing.digest_for, senior.id) is not None

        # A call id too big for the database is a clear refusal, never a 500.
        for huge in ("99999999999", "99999999999999999999"):
            refused = program.client.get(f"/calls/{huge}")
            assert refused.status_code == 422, refused.text
            assert "call_id" in refused.json()["detail"]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
