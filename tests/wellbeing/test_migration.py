"""Migration 0005 (wellbeing) upgrades and downgrades on SQLite and PostgreSQL, and the upgraded
schema is what the models say (nothing left for autogenerate)."""

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
WELLBEING_TABLES = {"call_records", "record_jobs", "senior_memory", "alerts"}


def _migrate(connection: Connection, direction: str, revision: str) -> set[str]:
    config = Config(str(ROOT / "carecall" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "carecall" / "migrations"))
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)
    return set(inspect(connection).get_table_names())


def _columns(connection: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns(table)}


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_wellbeing_migration_upgrades_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            tables = await connection.run_sync(_migrate, "upgrade", "head")
            assert tables >= WELLBEING_TABLES
            assert await connection.run_sync(_differences) == []

        async with engine.begin() as connection:
            tables = await connection.run_sync(_migrate, "downgrade", "0004")
            assert not WELLBEING_TABLES & tables
            assert {"calls", "seniors", "conversation_turns"} <= tables

        async with engine.begin() as connection:
            tables = await connection.run_sync(_migrate, "upgrade", "head")
            assert tables >= WELLBEING_TABLES
            columns = await connection.run_sync(_columns, "alerts")
            assert {"kind", "category", "severity", "detector", "acknowledged_by"} <= columns
    finally:
        await engine.dispose()
