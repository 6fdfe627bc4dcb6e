"""How the bot ends a call from inside the pipeline (the model's `end_call` tool, the guided
check-in): one way, so the call ends and its reason is stored the same whoever decides.

`say_goodbye_and_end` tells `on_end(reason)` first (the conversation stores it as the call's end
reason and hangs up through Twilio afterwards), then pushes the goodbye as a `TTSSpeakFrame` that
the caller cannot interrupt and an `EndWorkerFrame`: the pipeline ends once the goodbye's audio
has been sent, and the media websocket closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipecat.frames.frames import EndWorkerFrame, Frame, TTSSpeakFrame

PushFrame = Callable[[Frame], Awaitable[None]]


async def say_goodbye_and_end(
    push_frame: PushFrame, on_end: Callable[[str], None], *, goodbye: str, reason: str
) -> None:
    """End the call: `push_frame` is the deciding processor's, pushing downstream."""
    on_end(reason)
    speak = TTSSpeakFrame(goodbye)
    speak.interruptible = False
    await push_frame(speak)
    await push_frame(EndWorkerFrame(reason=reason))
