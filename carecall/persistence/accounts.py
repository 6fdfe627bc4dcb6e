"""Queries for operators (dashboard logins), their sessions and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carecall.persistence.models import ApiKey, Operator, OperatorSession, utcnow


class OperatorRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, email: str, password_hash: str, *, is_admin: bool) -> Operator:
        """A new operator; ValueError if the email is taken (also when two create it at once)."""
        try:
            async with self._sessions.begin() as session:
                operator = Operator(email=email, password_hash=password_hash, is_admin=is_admin)
                session.add(operator)
        except IntegrityError as exc:
            raise ValueError(f"An operator with the email {email} already exists.") from exc
        return operator

    async def by_email(self, email: str) -> Operator | None:
        async with self._sessions() as session:
            query = select(Operator).where(Operator.email == email)
            return (await session.execute(query)).scalar_one_or_none()

    async def get(self, operator_id: int) -> Operator | None:
        async with self._sessions() as session:
            return await session.get(Operator, operator_id)

    async def count(self) -> int:
        async with self._sessions() as session:
            return int((await session.execute(select(func.count(Operator.id)))).scalar_one())

    async def set_password_hash(self, operator_id: int, password_hash: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Operator)
                .where(Operator.id == operator_id)
                .values(password_hash=password_hash)
            )

    async def note_login(self, operator_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Operator).where(Operator.id == operator_id).values(last_login_at=utcnow())
            )

    async def delete(self, operator_id: int) -> bool:
        """Delete the operator and their sessions; False if there was no such operator."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(OperatorSession).where(OperatorSession.operator_id == operator_id)
            )
            result = await session.execute(delete(Operator).where(Operator.id == operator_id))
            return bool(getattr(result, "rowcount", 0))

    # --- sessions (`persistence.models.OperatorSession`) ---------------------------------------

    async def start_session(
        self, operator_id: int, token_hash: str, now: datetime, *, idle_since: datetime
    ) -> None:
        """Store a new session; sessions anyone left idle since before ``idle_since`` are
        deleted on the way (nobody may come back to look them up)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(OperatorSession).where(OperatorSession.last_seen_at < idle_since)
            )
            session.add(
                OperatorSession(
                    operator_id=operator_id, token_hash=token_hash, created_at=now, last_seen_at=now
                )
            )

    async def session_operator(
        self, token_hash: str, *, idle_since: datetime, touch_before: datetime, now: datetime
    ) -> Operator | None:
        """The operator of a live session: None when there is no such session (signed out,
        ended) or it was last used before ``idle_since`` (then it is deleted). Its last use is
        moved to ``now`` when it is older than ``touch_before`` (one write a minute, not one
        a request)."""
        async with self._sessions() as session:
            found = await session.execute(
                select(OperatorSession, Operator)
                .join(Operator, Operator.id == OperatorSession.operator_id)
                .where(OperatorSession.token_hash == token_hash)
            )
            row = found.one_or_none()
        if row is None:
            return None
        live, operator = row
        last_seen = live.last_seen_at
        if last_seen < idle_since:
            await self.end_session(token_hash)
            return None
        if last_seen < touch_before:
            async with self._sessions.begin() as session:
                await session.execute(
                    update(OperatorSession)
                    .where(OperatorSession.id == live.id)
                    .values(last_seen_at=now)
                )
        return operator

    async def end_session(self, token_hash: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(OperatorSession).where(OperatorSession.token_hash == token_hash)
            )

    async def end_sessions(self, operator_id: int) -> int:
        """End every session of the operator; how many there were."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(OperatorSession).where(OperatorSession.operator_id == operator_id)
            )
            return int(getattr(result, "rowcount", 0) or 0)


class ApiKeyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, name: str, prefix: str, key_hash: str) -> ApiKey:
        async with self._sessions.begin() as session:
            key = ApiKey(name=name, prefix=prefix, key_hash=key_hash)
            session.add(key)
        return key

    async def active_by_prefix(self, prefix: str) -> ApiKey | None:
        async with self._sessions() as session:
            query = select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
            return (await session.execute(query)).scalar_one_or_none()

    async def list_all(self) -> Sequence[ApiKey]:
        async with self._sessions() as session:
            return (await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars().all()

    async def revoke(self, key_id: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0))

    async def note_use(self, key_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
            )
