"""Tools the model can call during a call: `end_call` and `opt_out`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import FunctionCallResultProperties
from pipecat.services.llm_service import FunctionCallParams

from carecall.bot.prompts import DEFAULT_GOODBYE, OPT_OUT_GOODBYE
from carecall.core.end_reasons import OPT_OUT_REASON
from carecall.processors.call_end import say_goodbye_and_end

END_CALL = FunctionSchema(
    name="end_call",
    description=(
        "Say goodbye and hang up. Use it when the person says goodbye, wants to stop for "
        "today, or the check-in is finished. If they don't want these calls any more, use "
        "opt_out instead."
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


def end_call_handler(
    on_end: Callable[[str], None], *, default_goodbye: str = DEFAULT_GOODBYE
) -> Callable[[FunctionCallParams], object]:
    """Build the `end_call` handler. `on_end(reason)` is told before the goodbye is spoken;
    ``default_goodbye`` (in the call's language) is said when the model gives none.

    The goodbye is spoken from the tool's arguments (one model request, not two), then the
    pipeline ends once that audio has been sent; the caller's websocket closes and carecall
    hangs up through Twilio's REST API (`processors.call_end`, as the guided check-in ends).
    """

    async def end_call(params: FunctionCallParams) -> None:
        goodbye = str(params.arguments.get("goodbye") or "").strip() or default_goodbye
        reason = str(params.arguments.get("reason") or "").strip() or "conversation finished"
        logger.info(f"The model ended the call ({reason})")
        await params.result_callback(
            {"status": "ending call"}, properties=FunctionCallResultProperties(run_llm=False)
        )
        await say_goodbye_and_end(params.llm.push_frame, on_end, goodbye=goodbye, reason=reason)

    return end_call


OPT_OUT = FunctionSchema(
    name="opt_out",
    description=(
        "The person doesn't want these calls any more (e.g. 'stop calling me', 'don't call me "
        "again', 'take me off your list'). Confirms kindly that they won't be called again, "
        "says goodbye, hangs up, and makes sure they are never called again. Don't say a "
        "goodbye yourself; this tool says it."
    ),
    properties={
        "reason": {
            "type": "string",
            "description": "What they said, in a few words, e.g. 'does not want the calls'.",
        },
    },
    required=[],
)


def opt_out_handler(
    on_opt_out: Callable[[str], None], *, goodbye: str = OPT_OUT_GOODBYE
) -> Callable[[FunctionCallParams], object]:
    """Build the `opt_out` handler. `on_opt_out(reason)` is told before the goodbye is spoken:
    the conversation ends the call like `end_call` and has the person marked do-not-call
    afterwards, off the real-time path (`pipeline.events.CallNote.opted_out`).

    The goodbye is always the same confirming line (``goodbye``: `bot.prompts.OPT_OUT_GOODBYE`
    in the call's language), not the model's words: the person must hear that they won't be
    called again. The reason is always
    `core.end_reasons.OPT_OUT_REASON` (as in the guided check-in), so the stored end reason is one
    known string; the model's own words are only logged."""

    async def opt_out(params: FunctionCallParams) -> None:
        said = " ".join(str(params.arguments.get("reason") or "").split())[:100]
        logger.info(f"The person asked not to be called again ({said or 'no reason given'})")
        await params.result_callback(
            {"status": "opted out; ending call"},
            properties=FunctionCallResultProperties(run_llm=False),
        )
        await say_goodbye_and_end(
            params.llm.push_frame, on_opt_out, goodbye=goodbye, reason=OPT_OUT_REASON
        )

    return opt_out


CONNECT_CAREGIVER = FunctionSchema(
    name="connect_caregiver",
    description=(
        "Get the person's caregiver on this call, when something is urgent and the person has "
        "said yes to being connected. carecall phones the caregiver and tells the person what "
        "is happening; the person stays with you until the caregiver accepts, then the call "
        "moves to them. Say nothing right after using it."
    ),
    properties={},
    required=[],
)


def connect_caregiver_handler(
    on_connect: Callable[[], Awaitable[bool]],
) -> Callable[[FunctionCallParams], object]:
    """Build the `connect_caregiver` handler: `on_connect()` starts the warm hand-over
    (`calls.handover`: the caregivers are phoned one after another while the person stays on
    the line with the bot, which tells them what is happening) and says whether it could; the
    model is told so, and says something only if it failed."""

    async def connect_caregiver(params: FunctionCallParams) -> None:
        started = await on_connect()
        logger.info(
            f"Getting the caller's caregiver on the line: {'started' if started else 'failed'}"
        )
        if started:
            await params.result_callback(
                {
                    "status": "calling the caregiver now; the person has been told. Keep them "
                    "company until the caregiver accepts."
                },
                properties=FunctionCallResultProperties(run_llm=False),
            )
        else:
            await params.result_callback(
                {"status": "could not connect; tell them kindly and help them call 911 if needed"}
            )

    return connect_caregiver
