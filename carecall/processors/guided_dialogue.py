"""`GuidedDialogue`: answers the caller without a language model, in the model's place.

Sits where the LLM sits: after the user context aggregator, before the TTS. Consumes what the
LLM consumes, the `LLMContextFrame` the user aggregator pushes at the end of each caller turn
(the context's last message is the caller's words; speculative frames are not answered), and
pushes what the LLM pushes: `LLMFullResponseStartFrame`, `LLMTextFrame`s and
`LLMFullResponseEndFrame`. So the TTS speaks the answer, and the assistant aggregator and the
call recorder record the same turns as with a model. When the dialogue ends the call, it ends
the way the model's `end_call` tool does (`processors.call_end`): `on_end(reason)`, a goodbye the
caller cannot interrupt, and `EndWorkerFrame`; when the caller asked not to be called again
(`CallEnd.opted_out`), it tells `on_opt_out(reason)` instead, as the model's `opt_out` tool does.
Every other frame is forwarded unchanged.

What to say is the `Dialogue`'s business (the guided check-in: `bot.checkin.CheckinDialogue`);
this processor only carries words in and answers out. Runs in direct mode: it never waits, so
it needs no queue or task of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from carecall.core.dialogue import Dialogue, Reply
from carecall.processors.call_end import say_goodbye_and_end


class GuidedDialogue(FrameProcessor):
    def __init__(
        self,
        dialogue: Dialogue,
        *,
        on_end: Callable[[str], None],
        on_opt_out: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(enable_direct_mode=True)
        self.dialogue = dialogue
        self._on_end = on_end
        self._on_opt_out = on_opt_out or on_end
        self._ended = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
        elif not frame.speculation and not self._ended:
            await self._answer(self.dialogue.reply(caller_words(frame.context)))

    async def _answer(self, reply: Reply) -> None:
        if reply.sentences:
            await self.push_frame(LLMFullResponseStartFrame())
            last = len(reply.sentences) - 1
            for i, sentence in enumerate(reply.sentences):
                # LLM text carries its own spaces between frames.
                await self.push_frame(LLMTextFrame(sentence if i == last else f"{sentence} "))
            await self.push_frame(LLMFullResponseEndFrame())
        if reply.end is not None:
            self._ended = True
            logger.info(f"The guided check-in ended the call ({reply.end.reason})")
            on_end = self._on_opt_out if reply.end.opted_out else self._on_end
            await say_goodbye_and_end(
                self.push_frame, on_end, goodbye=reply.end.goodbye, reason=reply.end.reason
            )


def caller_words(context: LLMContext) -> str:
    """The text of the context's last message if the caller said it, else ``""``."""
    messages = context.get_messages()
    if not messages:
        return ""
    message = messages[-1]
    if not isinstance(message, dict) or message.get("role") != "user":
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        texts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
        return " ".join(t.strip() for t in texts if isinstance(t, str) and t.strip())
    return ""
