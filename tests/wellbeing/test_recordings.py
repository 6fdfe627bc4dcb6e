"""Recordings as stored, on SQLite and PostgreSQL: the file served to an operator or an API key
(Range requests too) and named by the call's detail; in the person's export (the JSON names
it, the ZIP carries it); deleted with the person, by the retention period, and when no call
names it any more."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile
from sqlalchemy import func, select

from carecall.checkins.roster import ConsentInput, RosterService
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import CallRecording
from carecall.persistence.recordings import RecordingFacts
from carecall.settings import Settings
from tests.api.support import add_operator, log_in, on_app_loop
from tests.checkins.clocks import FakeClock
from tests.checkins.program import Program, running_program

MARY = "+13125550101"


def _recorded_call(program: Program, *, finished: bool = True) -> tuple[int, int, Path]:
    """Mary, who agreed to recording, and a call placed for her with a 2 s recording."""
    mary = program.add_senior(phone=MARY)
    roster = RosterService(program.state.seniors, program.clock)
    on_app_loop(
        program.client,
        roster.record_consent,
        mary.id,
        ConsentInput("Mary Smith", "verbal", recording=True),
        recorded_by="tests",
    )
    call = on_app_loop(program.client, program.state.calls.create, MARY, None, senior_id=mary.id)
    recordings = program.state.recordings
    recordings.files.prepare()
    name = recordings.files.new_name(call.id, "opus")
    path = recordings.files.path(name)
    t = np.arange(16_000) / 8000
    soundfile.write(
        path,
        (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16),
        8000,
        format="OGG",
        subtype="OPUS",
    )
    facts = RecordingFacts(name, "opus")
    if finished:
        facts = RecordingFacts(name, "opus", 2.0, path.stat().st_size)
    on_app_loop(program.client, recordings.save, call.id, RecordingFacts(name, "opus"))
    on_app_loop(program.client, recordings.save, call.id, facts)
    return mary.id, call.id, path


def _rows(program: Program) -> int:
    async def count() -> int:
        async with create_session_factory(program.state.engine)() as session:
            return int(
                (
                    await session.execute(select(func.count()).select_from(CallRecording))
                ).scalar_one()
            )

    return on_app_loop(program.client, count)


def test_a_recording_is_served_with_its_call_and_seeks(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url=database_url, recordings_path=str(tmp_path / "rec"))
    with running_program(settings, FakeClock()) as program:
        _mary, call_id, path = _recorded_call(program)
        assert path.parent == tmp_path / "rec"

        detail = program.client.get(f"/api/calls/{call_id}").json()
        recording = detail["recording"]
        assert recording["state"] == "ready" and recording["format"] == "opus"
        assert recording["seconds"] == 2.0 and recording["url"] == f"/api/calls/{call_id}/recording"

        served = program.client.get(recording["url"])
        assert served.status_code == 200
        assert served.headers["content-type"] == "audio/ogg"
        assert served.headers["cache-control"] == "no-store"
        assert served.content == path.read_bytes()
        audio, rate = soundfile.read(io.BytesIO(served.content))
        assert rate == 8000 and len(audio) == 16_000

        part = program.client.get(recording["url"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == path.read_bytes()[:100]

        # Nothing for a call that was not recorded, or for someone not signed in.
        other = on_app_loop(program.client, program.state.calls.create, "+13125550199", None)
        assert program.client.get(f"/api/calls/{other.id}").json()["recording"] is None
        assert program.client.get(f"/api/calls/{other.id}/recording").status_code == 404
        del program.client.headers["Authorization"]
        assert program.client.get(recording["url"]).status_code == 401

        # The call page plays it, for a signed-in operator.
        add_operator(program.client)
        log_in(program.client)
        page = program.client.get(f"/calls/{call_id}").text
        player = re.search(r'<audio id="recording-player"[^>]*>', page)
        assert player and f'src="/api/calls/{call_id}/recording"' in player.group(0)
        assert program.client.get(recording["url"]).status_code == 200


def test_a_call_still_being_recorded_is_not_served_yet(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    with running_program(make_settings(database_url=database_url), FakeClock()) as program:
        _mary, call_id, _path = _recorded_call(program, finished=False)
        assert program.client.get(f"/api/calls/{call_id}").json()["recording"]["state"] == (
            "recording"
        )
        refused = program.client.get(f"/api/calls/{call_id}/recording")
        assert refused.status_code == 409 and "still being recorded" in refused.json()["detail"]


def test_the_export_names_the_recordings_and_the_zip_carries_them(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    with running_program(make_settings(database_url=database_url), FakeClock()) as program:
        mary, call_id, path = _recorded_call(program)

        data = program.client.get(f"/api/seniors/{mary}/export").json()
        (call,) = data["calls"]
        assert call["id"] == call_id
        assert call["recording"]["file_name"] == path.name
        assert call["recording"]["archive_path"] == f"recordings/{path.name}"
        assert data["senior"]["consent_recording"] is True

        response = program.client.get(f"/api/seniors/{mary}/export.zip")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["content-disposition"].endswith('.zip"')
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            names = archive.namelist()
            assert f"recordings/{path.name}" in names
            assert archive.read(f"recordings/{path.name}") == path.read_bytes()
            (json_name,) = [n for n in names if n.endswith(".json")]
            assert b'"archive_path"' in archive.read(json_name)
        assert program.client.get("/api/seniors/999/export.zip").status_code == 404


def test_deleting_a_person_deletes_their_recordings(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    with running_program(make_settings(database_url=database_url), FakeClock()) as program:
        mary, _call_id, path = _recorded_call(program)
        assert path.exists()
        assert program.client.delete(f"/api/seniors/{mary}").status_code == 204
        assert not path.exists()
        assert _rows(program) == 0


def test_recordings_past_the_retention_period_are_deleted(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(database_url=database_url, transcript_retention_days=30)
    clock = FakeClock(datetime.now(UTC))  # calls are stamped with the real time when stored
    with running_program(settings, clock) as program:
        _mary, call_id, path = _recorded_call(program)
        portal = program.client.portal
        assert portal is not None
        portal.call(program.state.retention.run_once)
        assert path.exists() and _rows(program) == 1

        clock.advance(hours=24 * 31)
        portal.call(program.state.retention.run_once)
        assert not path.exists() and _rows(program) == 0
        assert program.client.get(f"/api/calls/{call_id}").status_code == 200, "the call stays"


def test_files_no_call_names_are_swept_once_nothing_writes_them(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    with running_program(make_settings(database_url=database_url), FakeClock()) as program:
        _mary, _call_id, kept = _recorded_call(program)
        files = program.state.recordings.files
        stale = files.path(files.new_name(998, "opus"))
        fresh = files.path(files.new_name(999, "flac"))
        stale.write_bytes(b"left by a call deleted while it was recorded")
        fresh.write_bytes(b"a recording whose row is on its way")
        hours_ago = time.time() - 2 * 3600
        os.utime(stale, (hours_ago, hours_ago))
        os.utime(kept, (hours_ago, hours_ago))
        (files.root / "notes.txt").write_text("not a recording: never touched")

        portal = program.client.portal
        assert portal is not None
        assert not program.state.retention.enabled  # the sweep runs all the same
        portal.call(program.state.retention.run_once)
        assert not stale.exists()
        assert fresh.exists() and kept.exists() and (files.root / "notes.txt").exists()
