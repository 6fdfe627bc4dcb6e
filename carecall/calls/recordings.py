"""Recording phone calls, only with consent: `CallRecordings` starts a call's recording when the
call is for someone whose consent record says recording was agreed and who has "record calls"
on (`calls.briefs.CallBrief.record`, read before the stream opened), and tells the record
writer about its file.

Only phone calls are recorded. A talk in the browser and the demo call are for no one on the
roster, so there is no one whose consent could allow it.

The recording itself (`telephony.recording.LineRecording`) listens on the line's serializer and
writes its file from a thread of its own. Its row is stored through the record writer at once
(the file is known to the database before there is anything in it, so deleting the call or the
person always finds it) and again with its length once the file is complete; neither write is
waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from loguru import logger

from carecall.calls.recorder import RecordWriter
from carecall.persistence.recordings import RecordingFacts, RecordingFiles
from carecall.pipeline.events import CallNote
from carecall.settings import Settings
from carecall.telephony.recording import LineRecording, RecordingResult

FINISH_TIMEOUT_SECONDS = 5.0
"""At shutdown, how long the recordings of the last calls may take to be finished."""


class CallRecordings:
    def __init__(self, settings: Settings, files: RecordingFiles, writer: RecordWriter) -> None:
        self._format = settings.recording_format
        self._files = files
        self._writer = writer
        self._open: set[LineRecording] = set()

    async def start(self) -> None:
        """Nothing runs until a call is recorded (a `Service`, for its `stop`)."""

    async def stop(self) -> None:
        """The server is stopping (its calls have ended): let the last recordings be finished
        and their ends reach the record writer, which stops after this."""
        pending = list(self._open)
        if pending:
            await asyncio.to_thread(_wait_all, pending, FINISH_TIMEOUT_SECONDS)
            await asyncio.sleep(0)  # their ends, handed to this loop, are submitted

    def record(self, call_id: int) -> LineRecording:
        """Start recording the call (a thread; the file is made there, not here)."""
        name = self._files.new_name(call_id, self._format)
        loop = asyncio.get_running_loop()

        def done(result: RecordingResult) -> None:  # in the writer thread
            with contextlib.suppress(RuntimeError):  # the server's loop is gone: shutting down
                loop.call_soon_threadsafe(self._finished, call_id, name, recording, result)

        recording = LineRecording(self._files.path(name), format=self._format, on_done=done)
        self._open.add(recording)
        self._writer.submit(CallNote(call_id, recording=RecordingFacts(name, self._format)))
        logger.bind(call_id=call_id).info(f"Recording the call ({self._format})")
        return recording

    def _finished(
        self, call_id: int, name: str, recording: LineRecording, result: RecordingResult
    ) -> None:
        self._open.discard(recording)
        facts = RecordingFacts(
            name,
            self._format,
            seconds=result.seconds,
            size_bytes=result.size_bytes,
            dropped_seconds=round(result.dropped_seconds, 3),
            error=result.error,
        )
        self._writer.submit(CallNote(call_id, recording=facts))


def _wait_all(recordings: list[LineRecording], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for recording in recordings:
        recording.wait(max(0.0, deadline - time.monotonic()))
