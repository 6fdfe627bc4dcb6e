"""Migration 0011_reports (the outcomes report's indexes) on SQLite and PostgreSQL: upgraded,
every index is there as the models say (the answers' two only over turns with a latency);
downgraded, they are gone and the tables are untouched; upgraded again, nothing is left for
autogenerate."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from carecall.persistence.database import create_engine
from carecall.persistence.models import Base

ROOT = Path(__file__).resolve().parents[2]
REPORT_INDEXES = {
    "checkins": {"ix_checkins_report": ["window_start_at", "outcome", "attempts"]},
    "calls": {
        "ix_calls_report": ["created_at", "channel", "answered_at", "duration_seconds"],
        "ix_calls_senior_id_created_at": ["senior_id", "created_at"],
    },
    "escalations": {"ix_escalations_created_at": ["created_at"]},
    "call_records": {
        "ix_call_records_report": [
            "call_id",
            "mood",
            "sleep",
            "eating",
            "pain",
            "medication",
            "social_contact",
            "loneliness",
            "mobility",
            "confusion",
        ]
    },
    "conversation_turns": {
        "ix_conversation_turns_latency": ["started_at", "latency_ms"],
        "ix_conversation_turns_latency_value": ["latency_ms", "started_at"],
    },
}


def _migrate(connection: Connection, direction: str, revision: str) -> None:
    config = Config(str(ROOT / "carecall" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "carecall" / "migrations"))
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


def _indexes(connection: Connection) -> dict[str, dict[str, list[str]]]:
    inspector = inspect(connection)
    return {
        table: {
            index["name"]: [str(column) for column in index["column_names"]]
            for index in inspector.get_indexes(table)
            if index["name"] in REPORT_INDEXES[table]
        }
        for table in REPORT_INDEXES
    }


def _partial(connection: Connection) -> dict[str, str]:
    """Each answers' index's condition, as the database keeps it."""
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE "
            "'ix_conversation_turns_latency%'"
        )
    else:
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE name LIKE 'ix_conversation_turns_latency%'"
        )
    return {name: definition.split(" WHERE ")[-1] for name, definition in rows}


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_report_indexes_upgrade_and_downgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "upgrade", "head")
            assert await connection.run_sync(_indexes) == REPORT_INDEXES
            conditions = await connection.run_sync(_partial)
            assert set(conditions) == {
                "ix_conversation_turns_latency",
                "ix_conversation_turns_latency_value",
            }
            assert all("latency_ms IS NOT NULL" in c for c in conditions.values()), conditions
            assert await connection.run_sync(_differences) == []

        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "downgrade", "0010")
            assert await connection.run_sync(_indexes) == {table: {} for table in REPORT_INDEXES}
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert tables >= set(REPORT_INDEXES)

        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "upgrade", "head")
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
