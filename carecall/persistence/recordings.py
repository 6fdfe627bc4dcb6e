"""Call recordings as stored: the files in RECORDINGS_PATH (`RecordingFiles`) and their rows
(`RecordingRepository`, the `call_recordings` table).

A recording's row is written when the recording starts, before there is anything worth keeping
in its file, so whatever deletes calls (a person erased, calls past the retention period) finds
every file through the database. Files are deleted after the rows, once the transaction is
committed: a crash in between leaves a file no row names, and `unnamed_files` finds those (the
retention job deletes them), as it finds the file of a call deleted while it was recorded.

File names are made here and checked whenever one is turned into a path: a name from the
database is never trusted to stay inside the folder.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from loguru import logger
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carecall.persistence.models import Call, CallRecording

SUFFIXES = {"opus": "ogg", "flac": "flac"}
"""The file suffix of each recording format."""
MEDIA_TYPES = {"opus": "audio/ogg", "flac": "audio/flac"}
_NAME = re.compile(r"^call-\d{1,19}-[0-9a-f]{8}\.(ogg|flac)$")


class NotARecordingName(ValueError):
    pass


class RecordingFiles:
    """The folder of recordings: one file per recorded call, `call-{id}-{random}.{ogg|flac}`.
    The random part keeps a new database's call 1 from ever meeting an old call 1's file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Make the folder (blocking: at start-up, or in a thread)."""
        self.root.mkdir(parents=True, exist_ok=True)

    def new_name(self, call_id: int, format: str) -> str:
        return f"call-{call_id}-{secrets.token_hex(4)}.{SUFFIXES[format]}"

    def path(self, name: str) -> Path:
        """The file's path; `NotARecordingName` for anything not made by `new_name`."""
        if not _NAME.match(name):
            raise NotARecordingName(name)
        return self.root / name

    def size(self, name: str) -> int | None:
        try:
            return self.path(name).stat().st_size
        except (OSError, NotARecordingName):
            return None

    async def delete(self, names: Iterable[str]) -> int:
        """Delete these files (those already gone are fine); how many were deleted."""
        names = list(names)
        return await asyncio.to_thread(self._delete, names) if names else 0

    def _delete(self, names: Sequence[str]) -> int:
        deleted = 0
        for name in names:
            try:
                self.path(name).unlink()
                deleted += 1
            except FileNotFoundError:
                pass
            except (OSError, NotARecordingName) as exc:
                logger.warning(f"Could not delete the recording {name!r}: {exc}")
        return deleted

    async def unnamed_files(self, known: set[str], *, idle_seconds: float) -> list[str]:
        """Recording files no row names that nothing has written to for ``idle_seconds``
        (a file being recorded, whose row is still on its way, is written every second)."""
        return await asyncio.to_thread(self._unnamed, known, idle_seconds)

    def _unnamed(self, known: set[str], idle_seconds: float) -> list[str]:
        if not self.root.is_dir():
            return []
        cutoff = time.time() - idle_seconds
        found = []
        for entry in self.root.iterdir():
            if _NAME.match(entry.name) and entry.name not in known:
                try:
                    if entry.stat().st_mtime < cutoff:
                        found.append(entry.name)
                except OSError:
                    continue
        return found


@dataclass(frozen=True)
class RecordingFacts:
    """What is known of a recording: at its start only the file and format; at its end its
    length, size, what was dropped and any error."""

    file_name: str
    format: str
    seconds: float | None = None
    size_bytes: int | None = None
    dropped_seconds: float = 0.0
    error: str | None = None


class RecordingRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], files: RecordingFiles) -> None:
        self._sessions = sessions
        self.files = files

    async def save(self, call_id: int, facts: RecordingFacts) -> None:
        """Store the call's recording as it stands (the first time: its row; then its end).
        Idempotent, so a retried batch of the record writer stores the same facts again."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(select(CallRecording).where(CallRecording.call_id == call_id))
            ).scalar_one_or_none()
            if row is None:
                row = CallRecording(call_id=call_id, file_name=facts.file_name)
                session.add(row)
            row.format = facts.format
            if facts.seconds is not None:
                row.seconds = facts.seconds
                row.size_bytes = facts.size_bytes
                row.dropped_seconds = facts.dropped_seconds
                row.error = facts.error

    async def for_call(self, call_id: int) -> CallRecording | None:
        async with self._sessions() as session:
            return (
                await session.execute(select(CallRecording).where(CallRecording.call_id == call_id))
            ).scalar_one_or_none()

    async def drop_older_than(self, created_before: datetime) -> int:
        """Delete the recordings (rows, then files) of calls created before
        ``created_before``; how many there were."""
        async with self._sessions.begin() as session:
            old_calls = select(Call.id).where(Call.created_at < created_before)
            names = list(
                (
                    await session.execute(
                        select(CallRecording.file_name).where(CallRecording.call_id.in_(old_calls))
                    )
                )
                .scalars()
                .all()
            )
            if names:
                await session.execute(
                    delete(CallRecording).where(CallRecording.file_name.in_(names))
                )
        await self.files.delete(names)
        return len(names)

    async def delete_unnamed_files(self, *, idle_seconds: float = 3600.0) -> int:
        """Delete the files in the folder that no recording row names (see the module's
        docstring); how many."""
        async with self._sessions() as session:
            known = set((await session.execute(select(CallRecording.file_name))).scalars().all())
        unnamed = await self.files.unnamed_files(known, idle_seconds=idle_seconds)
        if unnamed:
            logger.info(f"Deleting {len(unnamed)} recording files that no call names")
        return await self.files.delete(unnamed)
