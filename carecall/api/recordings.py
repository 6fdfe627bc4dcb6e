"""Serving what recordings are: a call's recording file (with Range requests, so a player can
seek), and a person's export with their recordings in one ZIP file. The API's routes and the
dashboard's pages answer with these; who may ask is their business (both need a signed-in
operator or an API key)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from carecall.app_state import AppState
from carecall.persistence.models import CallRecording
from carecall.persistence.privacy import export_filename, write_archive
from carecall.persistence.recordings import MEDIA_TYPES, NotARecordingName, RecordingFiles

_PRIVATE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class RecordingView:
    """A call's recording as the API and the call page show it."""

    state: str
    """`recording` (the call is still being recorded), `ready`, or `failed`."""
    format: str
    seconds: float | None
    size_bytes: int | None
    dropped_seconds: float
    error: str | None
    url: str
    media_type: str

    @classmethod
    def of(cls, call_id: int, recording: CallRecording) -> RecordingView:
        if not recording.finished:
            state = "recording"
        elif recording.error and not recording.size_bytes:
            state = "failed"
        else:
            state = "ready"
        return cls(
            state=state,
            format=recording.format,
            seconds=recording.seconds,
            size_bytes=recording.size_bytes,
            dropped_seconds=recording.dropped_seconds,
            error=recording.error,
            url=recording_url(call_id),
            media_type=MEDIA_TYPES.get(recording.format, "application/octet-stream"),
        )


def recording_url(call_id: int) -> str:
    return f"/api/calls/{call_id}/recording"


async def recording_view(state: AppState, call_id: int) -> RecordingView | None:
    recording = await state.recordings.for_call(call_id)
    return RecordingView.of(call_id, recording) if recording is not None else None


async def recording_file(state: AppState, call_id: int) -> FileResponse:
    """The call's recording file; 404 when the call has none (or its file is gone), 409 while
    it is still being recorded."""
    recording = await state.recordings.for_call(call_id)
    if recording is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Call {call_id} has no recording.")
    if not recording.finished:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "The call is still being recorded; try again once it ends."
        )
    try:
        path = state.recordings.files.path(recording.file_name)
    except NotARecordingName:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "The recording's file is missing.") from None
    if not await asyncio.to_thread(path.is_file):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "The recording's file is missing.")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(recording.format, "application/octet-stream"),
        filename=recording.file_name,
        content_disposition_type="inline",
        headers=_PRIVATE,
    )


async def export_archive(state: AppState, senior_id: int) -> FileResponse:
    """Everything stored about the person with their recordings: a ZIP file of the export's
    JSON document and every recording it names (`recordings/…`). 404 for no such person."""
    now = state.clock.now()
    data = await state.privacy.export(senior_id, exported_at=now)
    if data is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"There is no person {senior_id} on the roster."
        )
    path = await asyncio.to_thread(
        _write_archive, data, export_filename(senior_id, now), state.recordings.files
    )
    return FileResponse(
        path,
        media_type="application/zip",
        filename=export_filename(senior_id, now, "zip"),
        headers=_PRIVATE,
        background=BackgroundTask(_remove, path),
    )


def _write_archive(data: dict[str, Any], json_name: str, files: RecordingFiles) -> str:
    handle, path = tempfile.mkstemp(prefix="carecall-export-", suffix=".zip")
    try:
        with os.fdopen(handle, "wb") as target:
            write_archive(target, data, json_name, files)
    except BaseException:
        _remove(path)
        raise
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
