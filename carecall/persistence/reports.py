"""The outcomes report's queries: what the check-in program did over a period, week by week or
month by month, every figure counted by the database (SQLite or PostgreSQL alike), never by
loading rows into Python.

**Buckets.** The period's weeks or months arrive as UTC ranges (`core.periods`: the agency's
zone and its daylight-saving changes are applied there). They become a small table in the
query (`buckets`: a UNION ALL of one row each), and each row is joined to the bucket whose
range holds its moment, so an index on that moment finds each bucket's rows directly. A row
counts where it happened: a check-in by its window's start, a call by when it was placed, a
turn by its start, an escalation or an alert by when it was opened, a wellbeing record by
its call's start.

**Percentiles.** SQLite has no `percentile_cont`, so both databases use one query shape:
the values are counted per bucket and distinct value (a histogram, far fewer rows than the
values), a window sum runs along each bucket's histogram in value order, and the p-th
percentile is the smallest value whose running count reaches p % of the bucket's count: the
nearest-rank percentile, a value that was actually observed (of 4 values, the median is the
2nd). The whole period's percentiles come from the same histograms, summed over buckets.

**As they stand now.** Escalations and alerts are counted by when they were opened, with
their acknowledgement as it is today: one opened in a week and acknowledged the next counts
as acknowledged in the week it was opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from carecall.persistence.models import (
    Alert,
    Call,
    CallChannel,
    CallRecord,
    Checkin,
    CheckinOutcome,
    ConversationTurn,
    Escalation,
    Senior,
    UtcDateTime,
)
from carecall.settings import WELLBEING_MEASURES

REACHED = (CheckinOutcome.COMPLETED, CheckinOutcome.OPTED_OUT)
"""A conversation happened (`CheckinOutcome.reached`): an opt-out is one too."""
NOT_REACHED = (
    CheckinOutcome.NO_ANSWER,
    CheckinOutcome.VOICEMAIL,
    CheckinOutcome.BUSY,
    CheckinOutcome.FAILED,
    CheckinOutcome.SKIPPED,
)
"""Why a finished check-in reached nobody: its last try's result, or `skipped` (never tried)."""
ALERT_KINDS = ("red_flag", "trend")
"""Every report shows these (`wellbeing.alerts`' kinds), even when none was raised."""
LEVELS = (0, 1, 2, 3)
WAITING_LISTED = 50
"""Unacknowledged escalations listed by name (oldest first); all of them are counted."""
WORK_MEM = "32MB"
"""PostgreSQL's memory for one sort or hash of a report's query (the default, 4 MB, spills a
year's latency histogram to disk)."""
_ANSWERS = "answers"
TOTAL = -1
"""The bucket index of the whole period's row in the percentile queries."""


# --- what the report holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class BucketRange:
    """One bucket's UTC range, start included, end excluded."""

    start_at: datetime
    end_at: datetime


@dataclass
class CheckinFigures:
    due: int = 0
    reached: int = 0
    """Reached, opt-outs included."""
    opted_out: int = 0
    not_reached: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in NOT_REACHED})
    in_progress: int = 0
    """Due in the bucket and not finished yet (a try to come, or one going on)."""
    reached_tries: int = 0
    """Tries made by the check-ins that were reached, all together."""
    reached_first_try: int = 0

    @property
    def not_reached_total(self) -> int:
        return sum(self.not_reached.values())

    @property
    def tries_per_reached(self) -> float | None:
        return self.reached_tries / self.reached if self.reached else None

    @property
    def first_try_share(self) -> float | None:
        return self.reached_first_try / self.reached if self.reached else None

    def add(self, other: CheckinFigures) -> None:
        self.due += other.due
        self.reached += other.reached
        self.opted_out += other.opted_out
        self.in_progress += other.in_progress
        self.reached_tries += other.reached_tries
        self.reached_first_try += other.reached_first_try
        for reason, count in other.not_reached.items():
            self.not_reached[reason] = self.not_reached.get(reason, 0) + count


@dataclass
class AckFigures:
    """Escalations, or alerts of one kind, opened in the bucket, and how long acknowledging
    them took (seconds, nearest-rank percentiles of those acknowledged)."""

    opened: int = 0
    acknowledged: int = 0
    ack_p50_seconds: int | None = None
    ack_p90_seconds: int | None = None

    @property
    def unacknowledged(self) -> int:
        return self.opened - self.acknowledged


@dataclass
class CallFigures:
    """Phone calls placed in the bucket, and the answer latency of every stored turn (of any
    channel) that started in it: from the caller's last word to the bot's first audio."""

    placed: int = 0
    answered: int = 0
    seconds: int = 0
    latency_turns: int = 0
    latency_p50_ms: int | None = None
    latency_p95_ms: int | None = None

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60, 1)


@dataclass
class BucketFigures:
    checkins: CheckinFigures = field(default_factory=CheckinFigures)
    escalations: AckFigures = field(default_factory=AckFigures)
    alerts: dict[str, AckFigures] = field(
        default_factory=lambda: {kind: AckFigures() for kind in ALERT_KINDS}
    )
    calls: CallFigures = field(default_factory=CallFigures)


@dataclass(frozen=True)
class WaitingEscalation:
    id: int
    senior_id: int
    senior_name: str
    opened_at: datetime
    state: str
    reason: str


@dataclass(frozen=True)
class MeasureCounts:
    """How many records rated a measure at each level 0-3, and how many didn't rate it."""

    levels: tuple[int, int, int, int]
    not_discussed: int


@dataclass(frozen=True)
class Wellbeing:
    """One person's records in the period (or everyone's: `senior_id` None), measure by
    measure."""

    senior_id: int | None
    name: str
    records: int
    measures: Mapping[str, MeasureCounts]


@dataclass(frozen=True)
class OutcomeFigures:
    buckets: Sequence[BucketFigures]
    total: BucketFigures
    waiting: Sequence[WaitingEscalation]
    """The oldest `WAITING_LISTED` escalations opened in the period and unacknowledged."""
    wellbeing: Wellbeing
    people: Sequence[Wellbeing]
    """Everyone with a record in the period, by name."""


# --- the queries ---------------------------------------------------------------------------------


class ReportQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def outcomes(self, ranges: Sequence[BucketRange]) -> OutcomeFigures:
        """Every figure of the report for these buckets (consecutive, in order) and for the
        whole of them. The sections are independent, so they are asked for at once, each on a
        connection of its own (PostgreSQL and SQLite both read in parallel)."""
        if not ranges:
            raise ValueError("a report needs at least one bucket")
        buckets = [BucketFigures() for _ in ranges]
        total = BucketFigures()
        start, end = ranges[0].start_at, ranges[-1].end_at
        table = _bucket_table(ranges)

        async def program() -> None:
            async with self._report_session() as session:
                await _checkins(session, table, buckets, total)
                await _calls(session, table, buckets, total)

        async def acknowledging() -> list[WaitingEscalation]:
            async with self._report_session() as session:
                dialect = session.get_bind().dialect.name
                await _acknowledged(session, table, _escalation_ack(dialect), buckets, total)
                await _acknowledged(session, table, _alert_ack(dialect), buckets, total)
                return await _waiting(session, start, end)

        async def latency() -> None:
            async with self._report_session() as session:
                await _latency(session, table, ranges, buckets, total)

        async def wellbeing() -> tuple[Wellbeing, list[Wellbeing]]:
            async with self._report_session() as session:
                return await _wellbeing(session, start, end)

        _, waiting, _, (overall, people) = await asyncio.gather(
            program(), acknowledging(), latency(), wellbeing()
        )
        return OutcomeFigures(buckets, total, waiting, overall, people)

    @asynccontextmanager
    async def _report_session(self) -> AsyncIterator[AsyncSession]:
        """A read-only session for one section. On PostgreSQL its transaction skips JIT
        compilation (on these queries it costs more than it saves: 80 ms of a 600 ms one) and
        gets the memory to sort and hash a year's histograms without spilling to disk."""
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("SET LOCAL jit = off"))
                await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            yield session


def _bucket_table(ranges: Sequence[BucketRange]) -> CTE:
    """`buckets(idx, start_at, end_at)`: one row per bucket, bound as parameters (stored as
    the columns are, so SQLite compares like with like)."""
    rows = [
        select(
            literal(index, Integer).label("idx"),
            literal(r.start_at, UtcDateTime()).label("start_at"),
            literal(r.end_at, UtcDateTime()).label("end_at"),
        )
        for index, r in enumerate(ranges)
    ]
    if len(rows) == 1:
        return rows[0].cte("buckets")
    return union_all(*rows).cte("buckets")


def _within(table: CTE, moment: Any) -> ColumnElement[bool]:
    return and_(moment >= table.c.start_at, moment < table.c.end_at)


def _int(value: Any) -> int:
    """A count or sum as Python gets it (PostgreSQL's sums of integers are numeric)."""
    return int(value or 0)


def _seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole seconds from `earlier` to `later`, on either database."""
    if dialect == "postgresql":
        seconds: ColumnElement[Any] = extract("epoch", later - earlier)
    else:
        seconds = (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(func.round(seconds), Integer)


async def _checkins(
    session: AsyncSession, table: CTE, buckets: list[BucketFigures], total: BucketFigures
) -> None:
    """Check-ins counted per bucket and outcome (None: not finished), with the tries of each."""
    rows = await session.execute(
        select(
            table.c.idx,
            Checkin.outcome,
            func.count(),
            func.sum(Checkin.attempts),
            func.count().filter(Checkin.attempts == 1),
        )
        .select_from(table)
        .join(Checkin, _within(table, Checkin.window_start_at))
        .group_by(table.c.idx, Checkin.outcome)
    )
    for index, outcome, count, tries, first_tries in rows.all():
        figures = CheckinFigures()
        figures.due = _int(count)
        if outcome is None:
            figures.in_progress = figures.due
        elif outcome in REACHED:
            figures.reached = figures.due
            figures.reached_tries = _int(tries)
            figures.reached_first_try = _int(first_tries)
            if outcome is CheckinOutcome.OPTED_OUT:
                figures.opted_out = figures.due
        else:
            figures.not_reached[outcome.value] = figures.due
        buckets[index].checkins.add(figures)
        total.checkins.add(figures)


@dataclass(frozen=True)
class _AckSource:
    """Rows opened at `opened_at`, acknowledged at `acknowledged_at`, keyed by `key` (an
    alert's kind; a constant for escalations); `figures` finds a bucket's figures by key."""

    entity: Any
    opened_at: Any
    acknowledged_at: Any
    key: ColumnElement[Any]
    seconds: ColumnElement[int]
    figures: Callable[[BucketFigures, str], AckFigures]


def _escalation_ack(dialect: str) -> _AckSource:
    return _AckSource(
        Escalation,
        Escalation.created_at,
        Escalation.acknowledged_at,
        literal("escalation"),
        _seconds_between(dialect, Escalation.acknowledged_at, Escalation.created_at),
        lambda bucket, _key: bucket.escalations,
    )


def _alert_ack(dialect: str) -> _AckSource:
    return _AckSource(
        Alert,
        Alert.created_at,
        Alert.acknowledged_at,
        Alert.__table__.c.kind,
        _seconds_between(dialect, Alert.acknowledged_at, Alert.created_at),
        lambda bucket, kind: bucket.alerts.setdefault(kind, AckFigures()),
    )


async def _acknowledged(
    session: AsyncSession,
    table: CTE,
    source: _AckSource,
    buckets: list[BucketFigures],
    total: BucketFigures,
) -> None:
    """How many were opened and acknowledged per bucket, and the percentiles of the time it
    took, of those acknowledged."""
    key = source.key.label("key")
    counts = await session.execute(
        select(table.c.idx, key, func.count(), func.count(source.acknowledged_at))
        .select_from(table)
        .join(source.entity, _within(table, source.opened_at))
        .group_by(table.c.idx, key)
    )
    for index, kind, opened, acknowledged in counts.all():
        for figures in (source.figures(buckets[index], kind), source.figures(total, kind)):
            figures.opened += _int(opened)
            figures.acknowledged += _int(acknowledged)
    histogram = (
        select(
            table.c.idx.label("idx"),
            key,
            source.seconds.label("value"),
            func.count().label("n"),
        )
        .select_from(table)
        .join(source.entity, _within(table, source.opened_at))
        .where(source.acknowledged_at.is_not(None))
        .group_by(table.c.idx, key, source.seconds)
    )
    for index, kind, _, (p50, p90) in await _percentiles(session, histogram, (50, 90)):
        figures = source.figures(total if index == TOTAL else buckets[index], kind)
        figures.ack_p50_seconds, figures.ack_p90_seconds = p50, p90


async def _calls(
    session: AsyncSession, table: CTE, buckets: list[BucketFigures], total: BucketFigures
) -> None:
    rows = await session.execute(
        select(
            table.c.idx,
            func.count(),
            func.count(Call.answered_at),
            func.sum(func.coalesce(Call.duration_seconds, 0)),
        )
        .select_from(table)
        .join(Call, _within(table, Call.created_at))
        .where(Call.channel == CallChannel.PHONE)
        .group_by(table.c.idx)
    )
    for index, placed, answered, seconds in rows.all():
        for figures in (buckets[index].calls, total.calls):
            figures.placed += _int(placed)
            figures.answered += _int(answered)
            figures.seconds += _int(seconds)


async def _latency(
    session: AsyncSession,
    table: CTE,
    ranges: Sequence[BucketRange],
    buckets: list[BucketFigures],
    total: BucketFigures,
) -> None:
    """Percentiles of the answers' latencies, from a histogram counted one of two ways (the
    same counts), each the fastest on its database for a year of answers (`bench.reports`):

    * PostgreSQL joins each bucket to its answers (an index range scan each, on `(started_at,
      latency_ms)`) and counts them in a hash table.
    * SQLite has no hash aggregate: grouping sorts every answer (0.9 s of CPU for 1.9 million).
      Instead it lists the period's distinct latencies and counts each latency's answers in
      each bucket with one seek on `(latency_ms, started_at)` apiece (0.3 s)."""
    if session.get_bind().dialect.name == "postgresql":
        histogram = (
            select(
                table.c.idx.label("idx"),
                literal(_ANSWERS).label("key"),
                ConversationTurn.latency_ms.label("value"),
                func.count().label("n"),
            )
            .select_from(table)
            .join(ConversationTurn, _within(table, ConversationTurn.started_at))
            .where(ConversationTurn.latency_ms.is_not(None))
            .group_by(table.c.idx, ConversationTurn.latency_ms)
        )
    else:
        histogram = _seek_histogram(table, ranges[0].start_at, ranges[-1].end_at)
    for index, _, count, (p50, p95) in await _percentiles(session, histogram, (50, 95)):
        figures = (total if index == TOTAL else buckets[index]).calls
        figures.latency_turns = count
        figures.latency_p50_ms, figures.latency_p95_ms = p50, p95


def _seek_histogram(table: CTE, start: datetime, end: datetime) -> Select[Any]:
    """`(idx, key, value, n)`: per bucket, how many answers had each latency, each count one
    index seek (SQLite's way, see `_latency`)."""
    answer = ConversationTurn
    values = (
        select(answer.latency_ms.label("value"))
        .where(answer.latency_ms.is_not(None), answer.started_at >= start, answer.started_at < end)
        .distinct()
        .cte("answer_values")
    )
    counted = aliased(ConversationTurn)
    n = (
        select(func.count())
        .select_from(counted)
        .where(
            counted.latency_ms.is_not(None),
            counted.latency_ms == values.c.value,
            counted.started_at >= table.c.start_at,
            counted.started_at < table.c.end_at,
        )
        .scalar_subquery()
    )
    pairs = (
        select(
            table.c.idx.label("idx"),
            literal(_ANSWERS).label("key"),
            values.c.value.label("value"),
            n.label("n"),
        )
        .select_from(values)
        .join(table, true())
        .cte("answer_counts")
    )
    return select(pairs.c.idx, pairs.c.key, pairs.c.value, pairs.c.n).where(pairs.c.n > 0)


async def _percentiles(
    session: AsyncSession, histogram: Select[Any], percents: Sequence[int]
) -> list[tuple[int, Any, int, tuple[int | None, ...]]]:
    """Nearest-rank percentiles per (bucket, key) of a histogram `(idx, key, value, n)`, and
    of the whole period (bucket `TOTAL`): rows `(idx, key, count, (p, …))`."""
    per_bucket = histogram.cte("histogram")
    whole = select(
        literal(TOTAL, Integer).label("idx"),
        per_bucket.c.key,
        per_bucket.c.value,
        func.sum(per_bucket.c.n).label("n"),
    ).group_by(per_bucket.c.key, per_bucket.c.value)
    every = union_all(
        select(per_bucket.c.idx, per_bucket.c.key, per_bucket.c.value, per_bucket.c.n), whole
    ).subquery("every")
    partition = [every.c.idx, every.c.key]
    running = (
        select(
            every.c.idx,
            every.c.key,
            every.c.value,
            func.sum(every.c.n)
            .over(partition_by=partition, order_by=every.c.value, rows=(None, 0))
            .label("running"),
            # The same order and a whole-partition frame: both sums come from one sort.
            func.sum(every.c.n)
            .over(partition_by=partition, order_by=every.c.value, rows=(None, None))
            .label("count"),
        )
    ).subquery("running")
    ranks = [
        func.min(case((running.c.running * 100 >= running.c.count * percent, running.c.value)))
        for percent in percents
    ]
    rows = await session.execute(
        select(running.c.idx, running.c.key, func.max(running.c.count), *ranks)
        # Values below the lowest percentile can't be one: fewer rows to group.
        .where(running.c.running * 100 >= running.c.count * min(percents))
        .group_by(running.c.idx, running.c.key)
    )
    return [
        (
            int(index),
            key,
            _int(count),
            tuple(None if value is None else int(value) for value in values),
        )
        for index, key, count, *values in rows.all()
    ]


async def _waiting(
    session: AsyncSession, start: datetime, end: datetime
) -> list[WaitingEscalation]:
    rows = await session.execute(
        select(
            Escalation.id,
            Escalation.senior_id,
            Senior.name,
            Escalation.created_at,
            Escalation.state,
            Escalation.reason,
        )
        .join(Senior, Senior.id == Escalation.senior_id)
        .where(
            Escalation.created_at >= start,
            Escalation.created_at < end,
            Escalation.acknowledged_at.is_(None),
        )
        .order_by(Escalation.created_at, Escalation.id)
        .limit(WAITING_LISTED)
    )
    return [
        WaitingEscalation(id_, senior_id, name, opened_at, state.value, reason)
        for id_, senior_id, name, opened_at, state, reason in rows.all()
    ]


def _level_columns() -> list[ColumnElement[Any]]:
    return [
        func.count().filter(getattr(CallRecord, measure) == value).label(f"{measure}_{value}")
        for measure in WELLBEING_MEASURES
        for value in LEVELS
    ]


async def _wellbeing(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[Wellbeing, list[Wellbeing]]:
    """Each person's records of calls placed in the period, measure by measure and level by
    level, and everyone's (summed from the people's, in the same query). A call and its
    record belong to the same person, so they are grouped by the call's, whose index
    (person, start) hands them over person by person."""
    people = (
        select(Call.senior_id.label("senior_id"), func.count().label("records"))
        .add_columns(*_level_columns())
        .select_from(Call)
        .join(CallRecord, CallRecord.call_id == Call.id)
        .where(Call.created_at >= start, Call.created_at < end, Call.senior_id.is_not(None))
        .group_by(Call.senior_id)
        .cte("people")
    )
    sums = [c for c in people.c if c.name != "senior_id"]
    # In a UNION, SQLite orders only by output columns: `place` puts everyone first.
    everyone = select(
        literal(0, Integer).label("place"),
        literal("").label("sort_name"),
        literal(None, Integer).label("senior_id"),
        *[func.coalesce(func.sum(c), 0).label(c.name) for c in sums],
        literal("Everyone").label("name"),
    )
    named = select(
        literal(1, Integer).label("place"),
        func.lower(Senior.name).label("sort_name"),
        *people.c,
        Senior.name,
    ).join(Senior, Senior.id == people.c.senior_id)
    both = union_all(everyone, named).subquery("both")
    rows = (
        await session.execute(
            select(both).order_by(both.c.place, both.c.sort_name, both.c.senior_id)
        )
    ).all()
    found = [_wellbeing_of(row._mapping) for row in rows]
    return found[0], found[1:]


def _wellbeing_of(row: RowMapping) -> Wellbeing:
    records = _int(row["records"])
    measures = {}
    for measure in WELLBEING_MEASURES:
        levels = tuple(_int(row[f"{measure}_{value}"]) for value in LEVELS)
        measures[measure] = MeasureCounts(
            (levels[0], levels[1], levels[2], levels[3]), records - sum(levels)
        )
    senior_id = row["senior_id"]
    return Wellbeing(None if senior_id is None else int(senior_id), row["name"], records, measures)


def kinds(figures: Iterable[BucketFigures]) -> list[str]:
    """Every alert kind in these buckets: `ALERT_KINDS` first, then any other, by name."""
    found = {kind for bucket in figures for kind in bucket.alerts}
    return [*ALERT_KINDS, *sorted(found - set(ALERT_KINDS))]
