"""The outcomes report on a year of a 1,000-person program: how long its queries take on SQLite
and on PostgreSQL, grouped by week and by month.

    .venv/bin/python -m bench.reports [--people 1000] [--postgres URL] [--sqlite-only]

It makes a new database on each (a SQLite file in a temporary folder; a PostgreSQL database
made on the server of ``--postgres`` and dropped afterwards), brings it to the current schema
with carecall's migrations, and loads a year of the program, generated with a fixed seed and
written in bulk (SQLite: `executemany` in one transaction a day; PostgreSQL: `COPY`):

* people in five zones, each with one plan (7 in 10 daily, the rest on weekdays), a 10:00-12:00
  window in their own time, up to 3 tries 15 minutes apart;
* each try a phone call, answered 65 % of the time (a few busy, failed or voicemail);
  2 % of check-ins skipped (never tried);
* each conversation 3-8 minutes: a greeting and 4-8 exchanges, every answer with its latency
  (log-normal, median about 0.9 s), and, for 95 % of them, a wellbeing record (each measure
  discussed half the time);
* an escalation for each check-in that reached nobody (88 % acknowledged, median 12 minutes),
  red-flag alerts on 0.3 % of conversations and trend alerts on 2 % (92 % acknowledged).

Then the database's statistics are refreshed (ANALYZE; VACUUM ANALYZE) and the report is
asked for (`ReportQueries.outcomes`, as `GET /api/reports/outcomes` asks for it, and the JSON
built from it): the whole year by week and by month, and the year's last 12 weeks (the page's
default): one first run, then `--repeat` more, printing the fastest, median and slowest, this
process's CPU time, and each SQL statement of a median run. Last, whether the two databases'
reports are the same. `--sqlite-file` and `--postgres-database` keep the databases (loaded if
missing, else reused as they are).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import event

from carecall.api.reports import report_json
from carecall.core.periods import GROUPINGS, Grouping, make_period
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.reports import BucketRange, ReportQueries
from carecall.settings import WELLBEING_MEASURES

ZONES = (
    ("America/New_York", 0.35),
    ("America/Chicago", 0.25),
    ("America/Denver", 0.1),
    ("America/Los_Angeles", 0.2),
    ("Europe/London", 0.1),
)
AGENCY_ZONE = "America/Chicago"
ANSWERED = 0.65
NOT_ANSWERED = (("no-answer", 0.6), ("voicemail", 0.25), ("busy", 0.1), ("failed", 0.05))
LEVEL_WEIGHTS = (0.55, 0.25, 0.13, 0.07)
SENTENCES = (
    "I'm fine, thank you. I slept well last night.",
    "My knee hurts a little, but I took my pills after breakfast.",
    "My daughter visited me yesterday and we had lunch in the garden.",
    "Not much, I watched the birds and did the crossword.",
    "That's lovely to hear. Did you get out for a walk today?",
    "I'm sorry your knee is sore. Have you told your doctor about it?",
    "It sounds like a good day. What are you having for dinner tonight?",
)
MODEL = "gpt-4o"


def _when(moment: datetime) -> str:
    """A moment as SQLAlchemy stores it in SQLite (UTC, microseconds always written)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Tables:
    """Rows to write, per table: columns and tuples (moments as aware datetimes)."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


COLUMNS: dict[str, tuple[str, ...]] = {
    "seniors": _names(
        "id name phone_number timezone language notes consent_given_by consent_method "
        "consent_at consent_recorded_by do_not_call turn_patience created_at updated_at"
    ),
    "checkin_plans": _names(
        "id senior_id weekdays window_start window_end max_attempts retry_delay_minutes "
        "escalation_ack_minutes active created_at"
    ),
    "checkins": _names(
        "id plan_id senior_id local_date window_start_at window_end_at state attempts outcome "
        "last_result finished_at"
    ),
    "calls": _names(
        "id twilio_sid to_number channel from_number status answered_by created_at answered_at "
        "ended_at duration_seconds end_reason senior_id checkin_id"
    ),
    "conversation_turns": _names(
        "id call_id sequence role text started_at ended_at interrupted latency_ms"
    ),
    "escalations": _names(
        "id senior_id checkin_id reason state step ack_minutes created_at acknowledged_at "
        "acknowledged_by"
    ),
    "alerts": _names(
        "id senior_id call_id kind category severity reason evidence detector created_at "
        "acknowledged_at acknowledged_by"
    ),
    "call_records": (
        *_names("id call_id senior_id created_at model"),
        *WELLBEING_MEASURES,
        *_names("evidence summary follow_ups"),
    ),
}
ORDER = tuple(COLUMNS)
"""Parents before children (foreign keys)."""


class Program:
    """A year of a program, generated day by day with a fixed seed."""

    def __init__(self, people: int, year: int, seed: int = 20) -> None:
        self.random = random.Random(seed)
        self.people = people
        self.year = year
        self.ids: dict[str, int] = {table: 0 for table in COLUMNS}
        created = datetime(year - 1, 12, 1, tzinfo=UTC)
        self.seniors: list[tuple[int, ZoneInfo, frozenset[int]]] = []
        first = Tables()
        zones = [name for name, _ in ZONES]
        weights = [share for _, share in ZONES]
        for number in range(1, people + 1):
            tz = ZoneInfo(self.random.choices(zones, weights)[0])
            daily = self.random.random() < 0.7
            weekdays = frozenset(range(7) if daily else range(5))
            senior_id = self._next("seniors")
            first.add(
                "seniors",
                (
                    senior_id,
                    f"Person {number:04d}",
                    f"+1555{number:07d}",
                    tz.key,
                    "en",
                    "",
                    "Their daughter",
                    "phone",
                    created,
                    "bench@example.org",
                    False,
                    1.0,
                    created,
                    created,
                ),
            )
            first.add(
                "checkin_plans",
                (
                    self._next("checkin_plans"),
                    senior_id,
                    "mon,tue,wed,thu,fri,sat,sun" if daily else "mon,tue,wed,thu,fri",
                    clock_time(10, 0),
                    clock_time(12, 0),
                    3,
                    15,
                    30,
                    True,
                    created,
                ),
            )
            self.seniors.append((senior_id, tz, weekdays))
        self.first = first

    def _next(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def days(self) -> Iterator[Tables]:
        day = date(self.year, 1, 1)
        while day.year == self.year:
            yield self._day(day)
            day += timedelta(days=1)

    def _day(self, day: date) -> Tables:
        out = Tables()
        for senior_id, tz, weekdays in self.seniors:
            if day.weekday() in weekdays:
                self._checkin(out, senior_id, senior_id, tz, day)
        return out

    def _checkin(self, out: Tables, senior_id: int, plan_id: int, tz: ZoneInfo, day: date) -> None:
        rnd = self.random
        start = datetime.combine(day, clock_time(10, 0), tzinfo=tz).astimezone(UTC)
        end = start + timedelta(hours=2)
        checkin_id = self._next("checkins")
        outcome = "skipped"
        tries = 0
        finished = start + timedelta(minutes=1)
        if rnd.random() >= 0.02:
            for tries in range(1, 4):
                placed = start + timedelta(minutes=15 * (tries - 1), seconds=rnd.randint(0, 40))
                if rnd.random() < ANSWERED:
                    outcome = "opted-out" if rnd.random() < 0.0005 else "completed"
                    finished = self._conversation(out, senior_id, checkin_id, placed, outcome)
                    break
                outcome = _weighted(rnd, NOT_ANSWERED)
                finished = self._unanswered(out, senior_id, checkin_id, placed, outcome)
        out.add(
            "checkins",
            (
                checkin_id,
                plan_id,
                senior_id,
                day,
                start,
                end,
                "done",
                tries,
                outcome,
                outcome,
                finished,
            ),
        )
        if outcome not in ("completed", "opted-out"):
            self._escalation(out, senior_id, checkin_id, finished, outcome, tries)

    def _call(
        self,
        out: Tables,
        senior_id: int,
        checkin_id: int,
        placed: datetime,
        status: str,
        answered_at: datetime | None,
        ended_at: datetime,
        answered_by: str | None,
        end_reason: str | None,
    ) -> int:
        call_id = self._next("calls")
        duration = None if answered_at is None else round((ended_at - answered_at).total_seconds())
        out.add(
            "calls",
            (
                call_id,
                "CA" + secrets.token_hex(16),
                f"+1555{senior_id:07d}",
                "phone",
                "+15005550006",
                status,
                answered_by,
                placed,
                answered_at,
                ended_at,
                duration,
                end_reason,
                senior_id,
                checkin_id,
            ),
        )
        return call_id

    def _unanswered(
        self, out: Tables, senior_id: int, checkin_id: int, placed: datetime, result: str
    ) -> datetime:
        rnd = self.random
        if result == "voicemail":
            answered = placed + timedelta(seconds=rnd.randint(10, 25))
            ended = answered + timedelta(seconds=rnd.randint(20, 40))
            self._call(
                out,
                senior_id,
                checkin_id,
                placed,
                "completed",
                answered,
                ended,
                "machine_end_beep",
                "voicemail",
            )
            return ended
        ended = placed + timedelta(seconds=rnd.randint(5, 32))
        self._call(out, senior_id, checkin_id, placed, result, None, ended, None, None)
        return ended

    def _conversation(
        self, out: Tables, senior_id: int, checkin_id: int, placed: datetime, outcome: str
    ) -> datetime:
        rnd = self.random
        answered = placed + timedelta(seconds=rnd.randint(5, 20))
        exchanges = rnd.randint(4, 8)
        seconds = rnd.randint(180, 480)
        ended = answered + timedelta(seconds=seconds)
        call_id = self._call(
            out, senior_id, checkin_id, placed, "completed", answered, ended, "human", "bot"
        )
        step = seconds / (2 * exchanges + 1)
        moment = answered
        for sequence in range(1, 2 * exchanges + 2):
            assistant = sequence % 2 == 1
            latency = (
                None
                if sequence == 1 or not assistant
                else max(250, round(rnd.lognormvariate(math.log(900), 0.35)))
            )
            out.add(
                "conversation_turns",
                (
                    self._next("conversation_turns"),
                    call_id,
                    sequence,
                    "assistant" if assistant else "user",
                    rnd.choice(SENTENCES),
                    moment,
                    moment + timedelta(seconds=step * 0.8),
                    False,
                    latency,
                ),
            )
            moment += timedelta(seconds=step)
        if rnd.random() < 0.95:
            levels = [
                None if rnd.random() < 0.5 else _weighted(rnd, tuple(enumerate(LEVEL_WEIGHTS)))
                for _ in WELLBEING_MEASURES
            ]
            out.add(
                "call_records",
                (
                    self._next("call_records"),
                    call_id,
                    senior_id,
                    ended + timedelta(seconds=rnd.randint(5, 90)),
                    MODEL,
                    *levels,
                    "{}",
                    "A short chat about the day.",
                    "[]",
                ),
            )
            if rnd.random() < 0.02:
                measure = rnd.choice(WELLBEING_MEASURES)
                self._alert(out, senior_id, call_id, "trend", measure, ended, 25)
        if rnd.random() < 0.003:
            category = rnd.choice(("fall", "chest_pain", "self_harm", "confusion"))
            self._alert(out, senior_id, call_id, "red_flag", category, answered, 8)
        return ended

    def _alert(
        self,
        out: Tables,
        senior_id: int,
        call_id: int,
        kind: str,
        category: str,
        opened: datetime,
        median_minutes: float,
    ) -> None:
        acknowledged = self._acknowledged(opened, median_minutes, 0.92)
        out.add(
            "alerts",
            (
                self._next("alerts"),
                senior_id,
                call_id,
                kind,
                category,
                "urgent" if kind == "red_flag" else "warning",
                f"{kind} about {category}",
                "",
                "rules" if kind == "red_flag" else "trend",
                opened,
                acknowledged,
                None if acknowledged is None else "nurse@example.org",
            ),
        )

    def _escalation(
        self,
        out: Tables,
        senior_id: int,
        checkin_id: int,
        opened: datetime,
        outcome: str,
        tries: int,
    ) -> None:
        acknowledged = self._acknowledged(opened, 12, 0.88)
        out.add(
            "escalations",
            (
                self._next("escalations"),
                senior_id,
                checkin_id,
                f"{outcome} after {tries} tries",
                "exhausted" if acknowledged is None else "acknowledged",
                2,
                30,
                opened,
                acknowledged,
                None if acknowledged is None else "Susan (caregiver)",
            ),
        )

    def _acknowledged(self, opened: datetime, median_minutes: float, share: float) -> Any:
        if self.random.random() >= share:
            return None
        minutes = self.random.lognormvariate(math.log(median_minutes), 0.8)
        return opened + timedelta(seconds=round(minutes * 60))


def _weighted(rnd: random.Random, choices: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*choices, strict=True)
    return rnd.choices(values, weights)[0]


# --- writing ---------------------------------------------------------------------------------


class SqliteWriter:
    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path)

    def write(self, tables: Tables) -> None:
        with self.connection:
            for table in ORDER:
                rows = tables.rows.get(table)
                if not rows:
                    continue
                columns = COLUMNS[table]
                marks = ", ".join("?" for _ in columns)
                self.connection.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    [tuple(_sqlite_value(v) for v in row) for row in rows],
                )

    def analyze(self) -> None:
        self.connection.execute("ANALYZE")
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, clock_time):
        return value.strftime("%H:%M:%S.%f")
    return value


class PostgresWriter:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def write(self, tables: Tables) -> None:
        async with self.connection.transaction():
            for table in ORDER:
                rows = tables.rows.get(table)
                if rows:
                    await self.connection.copy_records_to_table(
                        table, records=rows, columns=list(COLUMNS[table])
                    )

    async def analyze(self) -> None:
        for table in ORDER:
            await self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        await self.connection.execute("VACUUM ANALYZE")


# --- timing ----------------------------------------------------------------------------------


@dataclass
class Timing:
    what: str
    """"the year by week", "the year by month", "12 weeks"."""
    first: float
    runs: list[float]
    statements: list[tuple[float, str]]
    """Each statement of the median run (they run at once, in four groups)."""
    json_seconds: float
    """The median time to make the API's JSON of the figures and serialize it."""
    report: dict[str, Any]
    cpu: list[float]
    """This process's CPU seconds (all threads) in each run after the first: on SQLite the
    database's work itself (it runs in the process), on PostgreSQL only the client's."""


async def time_report(url: str, year: int, repeat: int) -> list[Timing]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    statement_times: list[tuple[float, str]] = []

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        took = time.perf_counter() - conn.info.pop("bench_started")
        statement_times.append((took, _what(statement)))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    timings = []
    try:
        queries = ReportQueries(sessions)
        tz = ZoneInfo(AGENCY_ZONE)
        last_monday = date(year, 12, 31) - timedelta(days=date(year, 12, 31).weekday())
        cases: list[tuple[str, date, date, Grouping]] = [
            (f"the year by {grouping}", date(year, 1, 1), date(year, 12, 31), grouping)
            for grouping in GROUPINGS
        ]
        # The page's default: the last 12 weeks.
        cases.append(("12 weeks", last_monday - timedelta(weeks=11), date(year, 12, 31), "week"))
        for what, first_day, last_day, grouping in cases:
            period = make_period(first_day, last_day, grouping, tz)
            ranges = [BucketRange(b.start_at, b.end_at) for b in period.buckets]
            runs: list[tuple[float, list[tuple[float, str]]]] = []
            json_runs: list[float] = []
            cpu_runs: list[float] = []
            report: dict[str, Any] = {}
            for _ in range(repeat + 1):
                statement_times.clear()
                started, cpu = time.perf_counter(), time.process_time()
                figures = await queries.outcomes(ranges)
                took = time.perf_counter() - started
                cpu_runs.append(time.process_time() - cpu)
                runs.append((took, [s for s in statement_times if not s[1].startswith("SET")]))
                started = time.perf_counter()
                report = report_json(period, figures)
                json.dumps(report)
                json_runs.append(time.perf_counter() - started)
            first, *rest = runs
            median = sorted(rest, key=lambda run: run[0])[len(rest) // 2]
            timings.append(
                Timing(
                    what,
                    first[0],
                    [r[0] for r in rest],
                    median[1],
                    statistics.median(json_runs),
                    report,
                    cpu_runs[1:],
                )
            )
    finally:
        await engine.dispose()
    return timings


SECTIONS = (
    ("conversation_turns", "answer latency (turns)"),
    ("call_records", "wellbeing (records)"),
    ("checkins", "check-ins"),
    ("JOIN calls", "calls"),
    ("alerts.kind", "alerts"),
    ("escalations.acknowledged_at IS NULL", "unacknowledged escalations"),
    ("escalations", "escalations"),
)


def _what(statement: str) -> str:
    """Which of the report's queries `statement` is (by the first table it names), and
    whether it counts or finds percentiles."""
    kind = "percentiles" if "running" in statement else "counts"
    for needle, name in SECTIONS:
        if needle in statement:
            return f"{name}: {kind}" if "buckets" in statement else name
    return " ".join(statement.split())[:60]


def _print_timings(name: str, timings: Sequence[Timing]) -> None:
    load = os.getloadavg()[0]
    print(f"  (load average over the last minute: {load:.1f} on {os.cpu_count()} CPUs)")
    for timing in timings:
        runs = sorted(timing.runs)
        print(
            f"  {name}, {timing.what}: first {timing.first * 1000:.0f} ms; "
            f"{len(runs)} more: fastest {runs[0] * 1000:.0f} ms, "
            f"median {statistics.median(runs) * 1000:.0f} ms, slowest {runs[-1] * 1000:.0f} ms; "
            f"this process's CPU, median {statistics.median(timing.cpu) * 1000:.0f} ms; "
            f"JSON {timing.json_seconds * 1000:.0f} ms"
        )
        for took, text in timing.statements:
            print(f"      {took * 1000:7.1f} ms  {text}")


# --- the run ---------------------------------------------------------------------------------


async def _load(
    program_factory: Callable[[], Program], write: Callable[[Tables], Any]
) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    program = program_factory()
    result = write(program.first)
    if asyncio.iscoroutine(result):
        await result
    for day in program.days():
        result = write(day)
        if asyncio.iscoroutine(result):
            await result
    return time.perf_counter() - started, dict(program.ids)


def _print_rows(name: str, rows: dict[str, int], seconds: float) -> None:
    listed = ", ".join(f"{table} {count:,}" for table, count in rows.items())
    print(f"{name}: loaded in {seconds:.0f} s: {listed}")


def _size(path: Path) -> int | None:
    """The file's size, None when there is none."""
    return path.stat().st_size if path.exists() else None


async def bench_sqlite(people: int, year: int, repeat: int, path: Path) -> list[Timing]:
    """The benchmark on the SQLite file `path`: loaded first unless it exists (then it is
    reused as it is)."""
    url = f"sqlite+aiosqlite:///{path}"
    if _size(path) is None:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        writer = SqliteWriter(path)
        try:
            seconds, rows = await _load(lambda: Program(people, year), writer.write)
            writer.analyze()
        finally:
            writer.close()
        _print_rows("SQLite", rows, seconds)
    print(f"SQLite {sqlite3.sqlite_version}, {(_size(path) or 0) / 2**20:.0f} MB:")
    timings = await time_report(url, year, repeat)
    _print_timings("SQLite", timings)
    return timings


async def bench_postgres(
    people: int, year: int, repeat: int, server_url: str, keep: str | None
) -> list[Timing]:
    """The benchmark on a new PostgreSQL database, dropped afterwards; or on database `keep`,
    loaded first unless it exists, and kept."""
    parts = urlsplit(server_url.replace("postgresql+asyncpg://", "postgresql://"))
    name = keep or f"carecall_reports_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    exists = bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    if not exists:
        await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        if not exists:
            engine = create_engine(url)
            await upgrade_to_head(engine)
            await engine.dispose()
            connection = await asyncpg.connect(dsn)
            try:
                writer = PostgresWriter(connection)
                seconds, rows = await _load(lambda: Program(people, year), writer.write)
                await writer.analyze()
            finally:
                await connection.close()
            _print_rows("PostgreSQL", rows, seconds)
        connection = await asyncpg.connect(dsn)
        try:
            version = await connection.fetchval("SHOW server_version")
            size = await connection.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await connection.close()
        print(f"PostgreSQL {version}, {size / 2**20:.0f} MB:")
        timings = await time_report(url, year, repeat)
        _print_timings("PostgreSQL", timings)
        return timings
    finally:
        if keep is None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        help="a server where a database may be created (and is dropped afterwards)",
    )
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        help="keep the SQLite database in this file (loaded if missing, else reused)",
    )
    parser.add_argument(
        "--postgres-database",
        help="keep the PostgreSQL database under this name (loaded if missing, else reused)",
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    print(
        f"A year ({args.year}) of {args.people:,} people; the report for the whole year, "
        f"agency zone {AGENCY_ZONE}."
    )
    sqlite: list[Timing] = []
    postgres: list[Timing] = []
    if not args.postgres_only:
        if args.sqlite_file is not None:
            sqlite = await bench_sqlite(args.people, args.year, args.repeat, args.sqlite_file)
        else:
            with tempfile.TemporaryDirectory(prefix="carecall-reports-") as folder:
                path = Path(folder) / "carecall.db"
                sqlite = await bench_sqlite(args.people, args.year, args.repeat, path)
    if not args.sqlite_only:
        postgres = await bench_postgres(
            args.people, args.year, args.repeat, args.postgres, args.postgres_database
        )
    for on_sqlite, on_postgres in zip(sqlite, postgres, strict=False):
        same = on_sqlite.report == on_postgres.report
        print(
            f"The two databases' reports of {on_sqlite.what} "
            + ("are the same." if same else "DIFFER.")
        )


if __name__ == "__main__":
    asyncio.run(main())
