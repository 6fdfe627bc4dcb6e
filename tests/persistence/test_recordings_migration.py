"""Migration 0013_recordings (recordings, only with consent) upgrades and downgrades on SQLite and
PostgreSQL; people already on the roster are neither recorded nor taken to have agreed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from carecall.persistence.database import create_engine

ROOT = Path(__file__).resolve().parents[2]


def _migrate(connection: Connection, direction: str, revision: str) -> None:
    config = Config(str(ROOT / "carecall" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "carecall" / "migrations"))
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


def _schema(connection: Connection) -> tuple[set[str], set[str]]:
    found = inspect(connection)
    return set(found.get_table_names()), {c["name"] for c in found.get_columns("seniors")}


async def test_the_recordings_migration_upgrades_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "upgrade", "0010")
            await connection.execute(
                text(
                    "INSERT INTO seniors (name, phone_number, timezone, language, notes, "
                    "do_not_call, turn_patience, created_at, updated_at) VALUES ('Mary', "
                    "'+13125550101', 'America/Chicago', 'en', '', false, 1.0, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            await connection.run_sync(_migrate, "upgrade", "0013_recordings")
            tables, columns = await connection.run_sync(_schema)
            assert "call_recordings" in tables
            assert {"consent_recording", "record_calls"} <= columns
            row = (
                await connection.execute(
                    text("SELECT consent_recording, record_calls FROM seniors")
                )
            ).one()
            assert not row[0] and not row[1], "nobody already on the roster is recorded"

        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "downgrade", "0010")
            tables, columns = await connection.run_sync(_schema)
            assert "call_recordings" not in tables
            assert not {"consent_recording", "record_calls"} & columns

        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "upgrade", "head")
            tables, _ = await connection.run_sync(_schema)
            assert "call_recordings" in tables
    finally:
        await engine.dispose()
