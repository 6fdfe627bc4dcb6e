"""The engine's pool: a SQLite file keeps a fixed set of connections (one thread each); which
errors say the database is away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from carecall.persistence.database import SQLITE_CONNECTIONS, create_engine, database_unreachable


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


@pytest.mark.parametrize(
    ("exc", "unreachable"),
    [
        (OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")), True),
        (ConnectionResetError("reset"), True),
        (TimeoutError(), True),
        (OSError(113, "No route to host"), True),
        (PoolTimeout("QueuePool limit of size 10 overflow 10 reached"), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ValueError("bad data"), False),
    ],
)
def test_what_says_the_database_is_away(exc: BaseException, unreachable: bool) -> None:
    assert database_unreachable(exc) is unreachable
