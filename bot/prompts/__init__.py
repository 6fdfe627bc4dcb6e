"""Prompt texts. They live in files next to this module so they read like prose and diff well."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from bot.checkin import DEFAULT_SCRIPT, CheckinScript, script_for_prompt

_HERE = Path(__file__).parent


@cache
def _template(name: str) -> str:
    return (_HERE / f"{name}.md").read_text(encoding="utf-8")


def system_prompt(
    *, bot_name: str, organization_name: str, plan: CheckinScript = DEFAULT_SCRIPT
) -> str:
    """The model's instructions, with the check-in plan it should cover (`bot.checkin`)."""
    return _template("system").format(
        bot_name=bot_name,
        organization_name=organization_name,
        checkin_script=script_for_prompt(plan),
    )


def greeting(*, bot_name: str, organization_name: str) -> list[str]:
    """The first words of every call, one sentence each: who is calling, on whose behalf, that
    it's automated, and the check-in's first question. Sentence by sentence, the first one is
    heard sooner and a caller who talks over the greeting is recorded as having heard exactly
    the sentences they heard."""
    return DEFAULT_SCRIPT.opening(bot_name=bot_name, organization_name=organization_name)


FALLBACK_LINE = "I'm sorry, I didn't catch that. Could you say it again?"
WRAP_UP_NOTE = (
    "The call has almost reached its time limit. Kindly wrap up now: say a short, warm goodbye "
    "and call the end_call tool."
)
TIME_UP_GOODBYE = (
    "We've been chatting for a while, so I'll let you go now. Thank you, and take care. Goodbye!"
)
DEFAULT_GOODBYE = DEFAULT_SCRIPT.goodbye

FIXED_LINES = (FALLBACK_LINE, TIME_UP_GOODBYE, DEFAULT_GOODBYE)
"""Lines said word for word in some calls: their audio is made once and kept (`bot.speech`)."""
