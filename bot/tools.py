"""Tools the model can call during a call."""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import FunctionCallResultProperties
from pipecat.services.llm_service import FunctionCallParams

from bot.prompts import DEFAULT_GOODBYE
from processors.call_end import say_goodbye_and_end

END_CALL = FunctionSchema(
    name="end_call",
    description=(
        "Say goodbye and hang up. Use it when the person says goodbye, wants to stop, asks not "
        "to be called again, or the check-in is finished."
    ),
    properties={
        "goodbye": {
            "type": "string",
            "description": "The short, warm goodbye to say before hanging up.",
        },
        "reason": {
            "type": "string",
            "description": "Why the call ends, e.g. 'check-in complete'.",
        },
    },
    required=[],
)


def end_call_handler(on_end: Callable[[str], None]) -> Callable[[FunctionCallParams], object]:
    """Build the `end_call` handler. `on_end(reason)` is told before the goodbye is spoken.

    The goodbye is spoken from the tool's arguments (one model request, not two), then the
    pipeline ends once that audio has been sent; the caller's websocket closes and carecall
    hangs up through Twilio's REST API (`processors.call_end`, as the guided check-in ends).
    """

    async def end_call(params: FunctionCallParams) -> None:
        goodbye = str(params.arguments.get("goodbye") or "").strip() or DEFAULT_GOODBYE
        reason = str(params.arguments.get("reason") or "").strip() or "conversation finished"
        logger.info(f"The model ended the call ({reason})")
        await params.result_callback(
            {"status": "ending call"}, properties=FunctionCallResultProperties(run_llm=False)
        )
        await say_goodbye_and_end(params.llm.push_frame, on_end, goodbye=goodbye, reason=reason)

    return end_call
