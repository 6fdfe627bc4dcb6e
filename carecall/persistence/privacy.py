"""A person's data as a whole: everything stored about one senior, exported as JSON (erasing it
is `SeniorRepository.delete`), and transcripts older than the retention period removed.

"Everything about them" is their roster entry (details, consent, do-not-call, caregivers,
plans), their check-ins and escalations with every notice, their calls (to them, or to their
number) with the transcripts, the recordings and the steps of any hand-over to a caregiver,
the wellbeing records, the memory digest and the alerts. The JSON names each call's recording
(its file, length and format); `export_archive` puts the JSON and the recordings' files in one
ZIP file.
"""

from __future__ import annotations

import enum
import json
import zipfile
from datetime import date, datetime, time
from typing import Any, BinaryIO

from sqlalchemy import delete, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from carecall.persistence.models import (
    Alert,
    AlertNotice,
    Call,
    CallRecord,
    CallRecording,
    CallStep,
    Checkin,
    ConversationTurn,
    Escalation,
    Senior,
    SeniorMemory,
)
from carecall.persistence.recordings import NotARecordingName, RecordingFiles

EXPORT_FORMAT = "carecall.senior-export/1"


def export_filename(senior_id: int, exported_at: datetime, suffix: str = "json") -> str:
    return f"carecall-person-{senior_id}-{exported_at:%Y%m%d}.{suffix}"


class PrivacyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def export(self, senior_id: int, *, exported_at: datetime) -> dict[str, Any] | None:
        """Everything stored about the person, as JSON-ready data; None if there is no such
        person."""
        async with self._sessions() as session:
            senior = (
                await session.execute(
                    select(Senior)
                    .where(Senior.id == senior_id)
                    .options(selectinload(Senior.caregivers), selectinload(Senior.plans))
                )
            ).scalar_one_or_none()
            if senior is None:
                return None
            calls = (
                (
                    await session.execute(
                        select(Call)
                        .where(their_calls(senior))
                        .options(selectinload(Call.turns))
                        .order_by(Call.id)
                    )
                )
                .scalars()
                .all()
            )
            call_ids = [call.id for call in calls]
            steps = await _all(
                session,
                select(CallStep).where(CallStep.call_id.in_(call_ids)).order_by(CallStep.sequence),
            )
            recordings = {
                r.call_id: r
                for r in await _all(
                    session, select(CallRecording).where(CallRecording.call_id.in_(call_ids))
                )
            }
            records = await _all(
                session, select(CallRecord).where(CallRecord.call_id.in_(call_ids))
            )
            checkins = await _all(session, select(Checkin).where(Checkin.senior_id == senior_id))
            escalations = await _all(
                session,
                select(Escalation)
                .where(Escalation.senior_id == senior_id)
                .options(selectinload(Escalation.notices)),
            )
            alerts = await _all(session, select(Alert).where(Alert.senior_id == senior_id))
            alert_notices = await _all(
                session,
                select(AlertNotice).where(AlertNotice.alert_id.in_([a.id for a in alerts])),
            )
            memory = (
                await session.execute(
                    select(SeniorMemory).where(SeniorMemory.senior_id == senior_id)
                )
            ).scalar_one_or_none()
            return {
                "format": EXPORT_FORMAT,
                "exported_at": exported_at.isoformat(),
                "senior": _row(senior),
                "caregivers": [_row(c) for c in senior.caregivers],
                "plans": [_row(p) for p in senior.plans],
                "checkins": [_row(c) for c in checkins],
                "escalations": [
                    {**_row(e), "notices": [_row(n) for n in e.notices]} for e in escalations
                ],
                "calls": [
                    {
                        **_row(c),
                        "turns": [_row(t) for t in c.turns],
                        "steps": [_row(s) for s in steps if s.call_id == c.id],
                        "recording": _recording(recordings.get(c.id)),
                    }
                    for c in calls
                ],
                "wellbeing_records": [_row(r) for r in records],
                "memory": _row(memory) if memory is not None else None,
                "alerts": [
                    {**_row(a), "notices": [_row(n) for n in alert_notices if n.alert_id == a.id]}
                    for a in alerts
                ],
            }

    async def drop_old_transcripts(self, created_before: datetime) -> int:
        """Delete the turns of calls created before `created_before`; the calls, their
        wellbeing records and alerts are kept. Returns how many turns were deleted."""
        async with self._sessions.begin() as session:
            old_calls = select(Call.id).where(Call.created_at < created_before)
            result = await session.execute(
                delete(ConversationTurn).where(ConversationTurn.call_id.in_(old_calls))
            )
            return int(getattr(result, "rowcount", 0) or 0)


def their_calls(senior: Senior) -> Any:
    """The calls that are the person's: placed for them, or to their number."""
    return or_(Call.senior_id == senior.id, Call.to_number == senior.phone_number)


async def recording_files_of(session: AsyncSession, senior: Senior) -> list[str]:
    """The file names of the recordings of the person's calls."""
    return list(
        (
            await session.execute(
                select(CallRecording.file_name)
                .join(Call, Call.id == CallRecording.call_id)
                .where(their_calls(senior))
            )
        )
        .scalars()
        .all()
    )


def _recording(recording: CallRecording | None) -> dict[str, Any] | None:
    """A call's recording in the export: its row, and where its file is in the archive."""
    if recording is None:
        return None
    row = _row(recording)
    del row["id"], row["call_id"]
    row["archive_path"] = archive_path(recording.file_name)
    return row


def archive_path(file_name: str) -> str:
    return f"recordings/{file_name}"


def write_archive(
    target: BinaryIO, data: dict[str, Any], json_name: str, files: RecordingFiles
) -> None:
    """The export as a ZIP file written to ``target`` (blocking: run it in a thread): the JSON
    document and every recording it names that is still on disk. The recordings are already
    compressed, so they are stored as they are."""
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(
            json_name, json.dumps(data, indent=2, ensure_ascii=False), zipfile.ZIP_DEFLATED
        )
        for call in data["calls"]:
            recording = call.get("recording")
            if recording is None:
                continue
            try:
                path = files.path(recording["file_name"])
                archive.write(path, recording["archive_path"], zipfile.ZIP_STORED)
            except (OSError, NotARecordingName):
                continue  # deleted meanwhile, or never written: the JSON still says it existed


async def _all(session: AsyncSession, query: Any) -> list[Any]:
    return list((await session.execute(query)).scalars().all())


def _row(obj: Any) -> dict[str, Any]:
    """A model row's columns as JSON-ready values."""
    return {
        attr.key: _json_value(getattr(obj, attr.key)) for attr in inspect(obj).mapper.column_attrs
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value
