"""Alerts' queries: raise one once, record each text sent about it, acknowledge it, list them;
and each person's wellbeing levels call by call, for trends and their chart.

An alert is raised with an INSERT that yields to the unique `open_key` of an open alert about
the same thing (`ON CONFLICT DO NOTHING`), so two processes checking the same person at once
raise one alert and text the caregiver once. Acknowledging clears the key (a conditional
UPDATE), so the next worsening can raise a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from carecall.persistence.models import (
    Alert,
    AlertNotice,
    AlertState,
    Call,
    CallChannel,
    CallRecord,
    Senior,
)
from carecall.settings import WELLBEING_MEASURES


@dataclass(frozen=True)
class NewAlert:
    senior_id: int | None
    call_id: int | None
    kind: str
    category: str
    severity: str
    reason: str
    evidence: str
    detector: str
    open_key: str
    created_at: datetime


@dataclass(frozen=True)
class CallLevels:
    """One call's record: when the call started, each measure's level (None: not discussed)
    and the person's words for it."""

    call_id: int
    started_at: datetime
    levels: Mapping[str, int | None]
    evidence: Mapping[str, str]


@dataclass(frozen=True)
class AlertAbout:
    """An alert (its notices loaded) and the person it is about (None: not on the roster), and
    how its call was made (None: no call): a talk in the browser or a demo has no person."""

    alert: Alert
    senior: Senior | None
    channel: CallChannel | None = None


class AlertRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # --- raising -------------------------------------------------------------------------------

    async def raise_once(self, new: NewAlert) -> Alert | None:
        """Store the alert unless one with the same open key is still open (None then)."""
        async with self._sessions.begin() as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            inserted = await session.execute(
                insert(Alert)
                .values(
                    senior_id=new.senior_id,
                    call_id=new.call_id,
                    kind=new.kind,
                    category=new.category[:40],
                    severity=new.severity,
                    reason=new.reason,
                    evidence=new.evidence,
                    detector=new.detector[:20],
                    open_key=new.open_key[:120],
                    created_at=new.created_at,
                )
                .on_conflict_do_nothing(index_elements=["open_key"])
                .returning(Alert.id)
            )
            alert_id = inserted.scalar_one_or_none()
            if alert_id is None:
                return None
            return await session.get(Alert, alert_id)

    async def add_notice(
        self,
        *,
        alert_id: int,
        caregiver_id: int | None,
        contact_name: str,
        to_number: str,
        body: str,
        sent_at: datetime,
    ) -> int:
        """Note a text about to be sent (so it is on record even if sending never returns)."""
        async with self._sessions.begin() as session:
            notice = AlertNotice(
                alert_id=alert_id,
                caregiver_id=caregiver_id,
                contact_name=contact_name[:100],
                to_number=to_number,
                body=body,
                sent_at=sent_at,
            )
            session.add(notice)
            await session.flush()
            return notice.id

    async def settle_notice(
        self, notice_id: int, *, twilio_sid: str | None, error: str | None
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(AlertNotice)
                .where(AlertNotice.id == notice_id)
                .values(twilio_sid=twilio_sid, error=error)
            )

    async def acknowledge(self, alert_id: int, *, by: str, now: datetime) -> Alert | None:
        """Mark it acknowledged; None if there is no such alert or it already was."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Alert)
                .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
                .values(acknowledged_at=now, acknowledged_by=by[:254], open_key=None)
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
        return await self.get(alert_id)

    # --- reading -------------------------------------------------------------------------------

    async def get(self, alert_id: int) -> Alert | None:
        async with self._sessions() as session:
            found = await session.execute(
                select(Alert).where(Alert.id == alert_id).options(selectinload(Alert.notices))
            )
            return found.scalar_one_or_none()

    async def search(
        self,
        *,
        state: AlertState | None = None,
        senior_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[Sequence[Alert], int]:
        """Alerts (with their notices): open ones red flags first, then newest first; and how
        many match in all."""
        conditions: list[Any] = []
        if state == "open":
            conditions.append(Alert.acknowledged_at.is_(None))
        elif state == "acknowledged":
            conditions.append(Alert.acknowledged_at.is_not(None))
        if senior_id is not None:
            conditions.append(Alert.senior_id == senior_id)
        async with self._sessions() as session:
            total = (
                await session.execute(select(func.count(Alert.id)).where(*conditions))
            ).scalar_one()
            rows = await session.execute(
                select(Alert)
                .where(*conditions)
                .options(selectinload(Alert.notices))
                .order_by(*_most_pressing_first())
                .limit(limit)
                .offset(offset)
            )
            return rows.scalars().all(), total

    async def open_alerts(self, limit: int = 100) -> list[AlertAbout]:
        """Alerts nobody has acknowledged, red flags first, then newest first, with their
        person."""
        alerts, _ = await self.search(state="open", limit=limit)
        return await self._about(alerts)

    async def for_call(self, call_id: int) -> list[AlertAbout]:
        """The alerts raised on one call (its page), red flags first, then newest first."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Alert)
                .where(Alert.call_id == call_id)
                .options(selectinload(Alert.notices))
                .order_by(*_most_pressing_first())
            )
            alerts = rows.scalars().all()
        return await self._about(alerts)

    async def _about(self, alerts: Sequence[Alert]) -> list[AlertAbout]:
        """Each alert with its person and its call's channel, in two queries."""
        senior_ids = {a.senior_id for a in alerts if a.senior_id is not None}
        call_ids = {a.call_id for a in alerts if a.call_id is not None}
        seniors: dict[int, Senior] = {}
        channels: dict[int, CallChannel] = {}
        async with self._sessions() as session:
            if senior_ids:
                found = await session.execute(select(Senior).where(Senior.id.in_(senior_ids)))
                seniors = {s.id: s for s in found.scalars()}
            if call_ids:
                rows = await session.execute(
                    select(Call.id, Call.channel).where(Call.id.in_(call_ids))
                )
                channels = {call_id: channel for call_id, channel in rows.all()}
        return [
            AlertAbout(
                a,
                seniors.get(a.senior_id) if a.senior_id is not None else None,
                channels.get(a.call_id) if a.call_id is not None else None,
            )
            for a in alerts
        ]

    async def senior(self, senior_id: int) -> Senior | None:
        """The person with their caregivers in ladder order."""
        async with self._sessions() as session:
            found = await session.execute(
                select(Senior)
                .where(Senior.id == senior_id)
                .options(selectinload(Senior.caregivers))
            )
            return found.scalar_one_or_none()

    async def levels_over_time(self, senior_id: int, limit: int) -> list[CallLevels]:
        """The person's latest `limit` call records, oldest first (by their calls' start)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(CallRecord, Call.created_at)
                .join(Call, Call.id == CallRecord.call_id)
                .where(CallRecord.senior_id == senior_id)
                .order_by(Call.created_at.desc(), Call.id.desc())
                .limit(limit)
            )
            found = [
                CallLevels(
                    call_id=record.call_id,
                    started_at=started,
                    levels={name: getattr(record, name) for name in WELLBEING_MEASURES},
                    evidence=dict(record.evidence or {}),
                )
                for record, started in rows.all()
            ]
        found.reverse()
        return found

    async def last_alerted_calls(self, senior_id: int, kind: str) -> dict[str, int]:
        """For each category, the call its latest alert of this kind was raised on."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Alert.category, Alert.call_id)
                .where(Alert.senior_id == senior_id, Alert.kind == kind)
                .order_by(Alert.created_at, Alert.id)
            )
            return {category: call_id for category, call_id in rows.all() if call_id is not None}


def _most_pressing_first() -> tuple[Any, ...]:
    open_first = case((Alert.acknowledged_at.is_(None), 0), else_=1)
    red_flags_first = case((Alert.kind == "red_flag", 0), else_=1)
    return (open_first, red_flags_first, Alert.created_at.desc(), Alert.id.desc())
