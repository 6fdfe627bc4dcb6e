"""`carecall` console command: manage operators and API keys, non-interactively.

carecall create-admin --email you@example.org --password '…'
carecall set-password --email you@example.org --password '…'   # ends their sessions
carecall delete-operator --email someone@example.org            # ends their sessions
carecall create-api-key --name "nightly export"      # prints the key once
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from carecall.auth.service import AuthService, UnknownOperator
from carecall.persistence.accounts import ApiKeyRepository, OperatorRepository
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.settings import Settings


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


async def _set_password(auth: AuthService, email: str, password: str) -> str:
    operator = await auth.change_password(email, password)
    return f"Changed the password of {operator.email}; their sessions have ended."


async def _delete_operator(auth: AuthService, email: str) -> str:
    await auth.delete_operator(email)
    return f"Deleted the operator {email.strip().lower()}; their sessions have ended."


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
    password = commands.add_parser(
        "set-password", help="set an operator's password (signs them out everywhere)"
    )
    password.add_argument("--email", required=True)
    password.add_argument("--password", required=True)
    remove = commands.add_parser(
        "delete-operator", help="delete an operator (signs them out everywhere)"
    )
    remove.add_argument("--email", required=True)
    api_key = commands.add_parser("create-api-key", help="create an API key for a program")
    api_key.add_argument("--name", required=True)
    args = parser.parse_args(argv)

    actions: dict[str, Callable[[AuthService], Awaitable[str]]] = {
        "create-admin": lambda auth: _create_admin(auth, args.email, args.password),
        "set-password": lambda auth: _set_password(auth, args.email, args.password),
        "delete-operator": lambda auth: _delete_operator(auth, args.email),
        "create-api-key": lambda auth: _create_api_key(auth, args.name),
    }
    try:
        message = asyncio.run(_with_auth(actions[args.command]))
    except (ValueError, UnknownOperator) as exc:
        print(f"carecall: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
