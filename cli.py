"""`carecall` console command: create the first admin and API keys, non-interactively.

carecall create-admin --email you@example.org --password '…'
carecall create-api-key --name "nightly export"      # prints the key once
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from auth.service import AuthService
from persistence.accounts import ApiKeyRepository, OperatorRepository
from persistence.database import create_engine, create_session_factory
from persistence.migrate import upgrade_to_head
from settings import Settings


@asynccontextmanager
async def standalone_auth(database_url: str) -> AsyncIterator[AuthService]:
    """An `AuthService` on its own engine, outside the server (this command, test harnesses,
    the benchmark): the database is migrated to head first, the engine disposed after."""
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
        sessions = create_session_factory(engine)
        yield AuthService(OperatorRepository(sessions), ApiKeyRepository(sessions))
    finally:
        await engine.dispose()


async def _with_auth(action: Callable[[AuthService], Awaitable[str]]) -> str:
    async with standalone_auth(Settings().database_url) as auth:
        return await action(auth)


async def _create_admin(auth: AuthService, email: str, password: str) -> str:
    operator = await auth.create_operator(email, password, is_admin=True)
    return f"Created admin {operator.email}. Sign in at /login."


async def _create_api_key(auth: AuthService, name: str) -> str:
    key = await auth.create_api_key(name)
    return (
        f"API key '{key.record.name}' (shown only now, store it safely):\n{key.secret}\n"
        "Send it as: Authorization: Bearer <key>"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="carecall", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    api_key = commands.add_parser("create-api-key", help="create an API key for a program")
    api_key.add_argument("--name", required=True)
    args = parser.parse_args(argv)

    try:
        if args.command == "create-admin":
            message = asyncio.run(
                _with_auth(lambda auth: _create_admin(auth, args.email, args.password))
            )
        else:
            message = asyncio.run(_with_auth(lambda auth: _create_api_key(auth, args.name)))
    except ValueError as exc:
        print(f"carecall: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
