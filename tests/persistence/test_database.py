"""The engine's pool: a SQLite file keeps a fixed set of connections (one thread each)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from persistence.database import SQLITE_CONNECTIONS, create_engine


async def test_a_sqlite_file_never_opens_more_than_its_fixed_pool(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}")
    engine.sync_engine.pool._timeout = 0.2  # type: ignore[attr-defined]
    try:
        held = [await engine.connect() for _ in range(SQLITE_CONNECTIONS)]
        for connection in held:
            assert (await connection.execute(text("select 1"))).scalar() == 1
        # One more waits for a connection instead of opening a sixth thread...
        with pytest.raises(PoolTimeout):
            await engine.connect()
        # ...and gets one as soon as another is given back.
        waiting = asyncio.create_task(engine.connect().start())
        await asyncio.sleep(0.05)
        await held.pop().close()
        held.append(await asyncio.wait_for(waiting, 1))
        for connection in held:
            await connection.close()
        assert engine.sync_engine.pool.checkedin() == SQLITE_CONNECTIONS  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
