"""`RedFlagWatcher`: hears urgent signs in the caller's words and gets help moving at once.

Consumes nothing: every frame is forwarded unchanged, in order, at once. Reads each
`TranscriptionFrame` (a finished transcription of the caller) with the phrase rules and the
classifier (`wellbeing.red_flags.detect_all`, under a millisecond). For each category matched it
pushes, just before that transcription, an `LLMMessagesAppendFrame` (``run_llm=False``) holding a
system note (`care_note`): sitting between the STT and the user context aggregator, the note is
added to the context before the caller's turn is and before the reply to it is generated, so that
very reply addresses the red flag, and no extra model run starts. Then it tells
``on_red_flag(flag)`` (synchronous and quick: whoever builds the pipeline persists and alerts off
the real-time path) and logs the category, detector and rule (never the caller's words or number).
``on_heard(flag)``
(when given) is told of every red flag heard, a category raised before included: the guided
check-in gives the care advice again rather than a "didn't catch that".

A line neither of them flags, of at least ``min_words_to_check`` words ("Yes." is not worth a
request), goes to ``llm_check`` (when given) in a background task the frame path never waits for; at
most ``max_checks`` run at once and a line that finds them all busy is not checked (logged). A hit
is told to ``on_red_flag`` and its note pushed as above, but it can only shape later replies: the
reply to that line is already under way, so the check starts ``check_delay`` seconds later, out
of that reply's way (a benchmark measured replies ~10 ms slower at 8 calls when both went at
once). Checks are not cancelled when the call ends (each is bounded by its own timeout), so a
red flag in the last words still raises the alert; `wait_for_checks` awaits them. Each category
is raised once per call.

The rules and the classifier read English only (`wellbeing.red_flags.RULE_LANGUAGES`). In a call
in another ``language`` they are skipped and the model check is all there is: every line is
checked (a single word too: "¡Socorro!"), at once rather than ``check_delay`` later, since no
rule has spoken for it. Without a model such a call has no red-flag check; only speech on this
machine has no model, and it only speaks English.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    LLMMessagesAppendFrame,
    TranscriptionFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContextMessage
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from carecall.core.languages import DEFAULT_LANGUAGE
from carecall.wellbeing.red_flags import RedFlag, care_note, detect_all, rules_cover

RedFlagCheck = Callable[[str], Awaitable[RedFlag | None]]
"""Asks a model about one line: `wellbeing.red_flags.LLMCheck`."""


class RedFlagWatcher(FrameProcessor):
    def __init__(
        self,
        *,
        on_red_flag: Callable[[RedFlag], None],
        on_heard: Callable[[RedFlag], None] | None = None,
        llm_check: RedFlagCheck | None = None,
        max_checks: int = 2,
        min_words_to_check: int = 2,
        connect_to: str | None = None,
        check_delay: float = 1.5,
        language: str = DEFAULT_LANGUAGE,
        name: str | None = None,
    ) -> None:
        super().__init__(enable_direct_mode=True, name=name)  # a pass-through: no queue or task
        if max_checks < 1:
            raise ValueError("max_checks must be at least 1")
        self._on_red_flag = on_red_flag
        self._on_heard = on_heard
        self._llm_check = llm_check
        self._max_checks = max_checks
        self._rules = rules_cover(language)
        self._min_words = min_words_to_check if self._rules else 1
        self._connect_to = connect_to
        self._check_delay = check_delay if self._rules else 0.0
        self._checks: set[asyncio.Task[None]] = set()
        self._raised: set[str] = set()
        self._ended = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._read(frame.text)
        elif isinstance(frame, (EndFrame, CancelFrame)):
            self._ended = True
        await self.push_frame(frame, direction)

    async def wait_for_checks(self) -> None:
        """Wait until the model checks under way have finished (each has its own timeout)."""
        while pending := [task for task in self._checks if not task.done()]:
            await asyncio.wait(pending)

    async def _read(self, text: str) -> None:
        flags = detect_all(text) if self._rules else []
        for flag in flags:
            await self._raise(flag)
        if not flags and self._llm_check is not None and len(text.split()) >= self._min_words:
            self._start_check(self._llm_check, text)

    async def _raise(self, flag: RedFlag) -> None:
        if self._on_heard is not None:
            try:
                self._on_heard(flag)
            except Exception:
                logger.exception("The red-flag listener failed")
        if flag.category in self._raised:
            return
        self._raised.add(flag.category)
        logger.warning(f"Red flag: {flag.category} (detector {flag.detector}, rule {flag.rule})")
        if not self._ended:
            note: LLMContextMessage = {
                "role": "system",
                "content": care_note(flag, connect_to=self._connect_to),
            }
            await self.push_frame(LLMMessagesAppendFrame(messages=[note], run_llm=False))
        try:
            self._on_red_flag(flag)
        except Exception:
            logger.exception("The red-flag callback failed")

    def _start_check(self, check: RedFlagCheck, text: str) -> None:
        if len(self._checks) >= self._max_checks:
            logger.info("A line was not checked by the model: earlier checks still running")
            return
        # A plain task, not one of the processor's: it outlives the pipeline, up to its timeout.
        task = asyncio.create_task(self._check(check, text), name="red-flag-check")
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check(self, check: RedFlagCheck, text: str) -> None:
        # The reply to this line is being made right now (the model's verdict can only shape
        # later ones): asking a moment later keeps the check off that reply's way.
        await asyncio.sleep(self._check_delay)
        try:
            flag = await check(text)
        except Exception:
            logger.exception("The red-flag model check failed")
            return
        if flag is not None:
            await self._raise(flag)
