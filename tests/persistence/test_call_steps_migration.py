"""Migration 0012_call_steps upgrades and downgrades on SQLite and PostgreSQL, and the upgraded
schema is what the models say (nothing left for autogenerate)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.persistence.database import create_engine
from tests.wellbeing.test_migration import _differences, _migrate


async def test_the_call_steps_migration_upgrades_and_downgrades(database_url: str) -> None:
    engine: AsyncEngine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            tables = await connection.run_sync(_migrate, "upgrade", "head")
            assert "call_steps" in tables
            assert await connection.run_sync(_differences) == []

        async with engine.begin() as connection:
            tables = await connection.run_sync(_migrate, "downgrade", "0010")
            assert "call_steps" not in tables and "calls" in tables

        async with engine.begin() as connection:
            tables = await connection.run_sync(_migrate, "upgrade", "head")
            assert "call_steps" in tables
    finally:
        await engine.dispose()
