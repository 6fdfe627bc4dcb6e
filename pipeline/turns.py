"""When the caller's turn is over: VAD silence, then a further pause, and a transcript.

`PauseTolerantTurnStop` is pipecat's `SpeechTimeoutUserTurnStopStrategy` (older callers pause
mid-sentence: a turn ends only after the VAD's silence plus `user_speech_timeout`, and only once
there is a transcript) that also notes the moment it decided, so each answer's latency can be
split into the turn-taking pause and what came after it (see `CallRecorder`).
"""

from __future__ import annotations

import time

from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
    SpeechTimeoutUserTurnStopStrategy,
)


class PauseTolerantTurnStop(SpeechTimeoutUserTurnStopStrategy):
    def __init__(self, *, pause_seconds: float) -> None:
        super().__init__(user_speech_timeout=pause_seconds)
        self.decided_at: float | None = None
        """Monotonic time of the last end-of-turn decision."""

    async def trigger_user_turn_stopped(
        self, *, enable_user_speaking_frames: bool | None = None
    ) -> None:
        self.decided_at = time.monotonic()
        await super().trigger_user_turn_stopped(
            enable_user_speaking_frames=enable_user_speaking_frames
        )
