"""The model's system prompt and the call's opening follow the check-in plan."""

from __future__ import annotations

from bot import prompts
from bot.checkin import DEFAULT_SCRIPT


def test_the_system_prompt_covers_the_plans_questions() -> None:
    text = prompts.system_prompt(bot_name="Sunny", organization_name="Acme Care")
    assert text.startswith("You are Sunny,")
    assert "on behalf of Acme Care." in text
    for question in DEFAULT_SCRIPT.questions:
        assert question.text in text
    assert "{" not in text
    assert "end_call" in text


def test_the_greeting_is_the_plans_opening() -> None:
    greeting = prompts.greeting(bot_name="Sunny", organization_name="Acme Care")
    assert greeting == DEFAULT_SCRIPT.opening(bot_name="Sunny", organization_name="Acme Care")
    assert greeting[-1] == DEFAULT_SCRIPT.questions[0].text
    assert DEFAULT_SCRIPT.goodbye == prompts.DEFAULT_GOODBYE
