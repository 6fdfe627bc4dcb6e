"""The end_call and opt_out tools: note the reason, answer without a new model turn, say
goodbye, end."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from pipecat.frames.frames import EndWorkerFrame, Frame, TTSSpeakFrame
from pipecat.services.llm_service import FunctionCallParams

from carecall.bot.prompts import DEFAULT_GOODBYE, OPT_OUT_GOODBYE, call_lines
from carecall.bot.tools import END_CALL, OPT_OUT, end_call_handler, opt_out_handler
from carecall.core.end_reasons import OPT_OUT_REASON


async def _call(handler: Any, params: SimpleNamespace) -> None:
    """Call the handler with a stand-in for pipecat's FunctionCallParams."""
    await handler(cast(FunctionCallParams, params))


class FakeLLM:
    def __init__(self) -> None:
        self.pushed: list[Frame] = []

    async def push_frame(self, frame: Frame, *args: Any, **kwargs: Any) -> None:
        self.pushed.append(frame)


class Call:
    """What the handler touched: on_end reasons, tool results, frames pushed."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.results: list[tuple[Any, Any]] = []
        self.llm = FakeLLM()

    async def result_callback(self, result: Any, *, properties: Any = None) -> None:
        self.results.append((result, properties))

    async def run(self, arguments: dict[str, Any], tool: str = "end_call") -> None:
        make = end_call_handler if tool == "end_call" else opt_out_handler
        handler = make(self.reasons.append)
        params = SimpleNamespace(
            function_name=tool,
            tool_call_id="call_1",
            arguments=arguments,
            llm=self.llm,
            result_callback=self.result_callback,
        )
        await _call(handler, params)


def test_schema_name() -> None:
    assert END_CALL.name == "end_call"
    assert set(END_CALL.properties) == {"goodbye", "reason"}
    assert END_CALL.required == []


async def test_says_the_models_goodbye_then_ends() -> None:
    call = Call()
    await call.run({"goodbye": "Bye now, take care!", "reason": "check-in complete"})

    assert call.reasons == ["check-in complete"]
    assert len(call.results) == 1
    result, properties = call.results[0]
    assert result == {"status": "ending call"}
    assert properties is not None
    assert properties.run_llm is False

    assert [type(f) for f in call.llm.pushed] == [TTSSpeakFrame, EndWorkerFrame]
    speak, end = call.llm.pushed
    assert isinstance(speak, TTSSpeakFrame)
    assert isinstance(end, EndWorkerFrame)
    assert speak.text == "Bye now, take care!"
    assert speak.interruptible is False
    assert end.reason == "check-in complete"


@pytest.mark.parametrize("arguments", [{}, {"goodbye": "   "}, {"goodbye": None}])
async def test_default_goodbye_and_reason_when_absent(arguments: dict[str, Any]) -> None:
    call = Call()
    await call.run(arguments)

    assert call.reasons == ["conversation finished"]
    assert call.results[0][1].run_llm is False
    assert [type(f) for f in call.llm.pushed] == [TTSSpeakFrame, EndWorkerFrame]
    speak, end = call.llm.pushed
    assert isinstance(speak, TTSSpeakFrame)
    assert isinstance(end, EndWorkerFrame)
    assert speak.text == DEFAULT_GOODBYE
    assert speak.interruptible is False
    assert end.reason == "conversation finished"


async def test_on_end_is_told_before_the_goodbye_is_spoken() -> None:
    call = Call()
    seen: list[int] = []
    handler = end_call_handler(lambda reason: seen.append(len(call.llm.pushed)))
    params = SimpleNamespace(
        arguments={"reason": "asked not to be called"},
        llm=call.llm,
        result_callback=call.result_callback,
    )
    await _call(handler, params)

    assert seen == [0]
    assert len(call.llm.pushed) == 2


def test_opt_out_is_offered_and_end_call_no_longer_covers_it() -> None:
    assert OPT_OUT.name == "opt_out"
    assert set(OPT_OUT.properties) == {"reason"} and OPT_OUT.required == []
    assert "doesn't want these calls" in OPT_OUT.description
    assert "stop calling me" in OPT_OUT.description
    assert "not to be called again" not in END_CALL.description
    assert "opt_out" in END_CALL.description


@pytest.mark.parametrize(
    "arguments", [{"reason": "does not want the calls"}, {}, {"goodbye": "See you tomorrow!"}]
)
async def test_opt_out_confirms_kindly_and_ends_like_end_call(arguments: dict[str, Any]) -> None:
    call = Call()
    await call.run(arguments, tool="opt_out")

    # One known reason (the end reason stored), whatever the model said.
    assert call.reasons == [OPT_OUT_REASON]
    result, properties = call.results[0]
    assert result == {"status": "opted out; ending call"} and properties.run_llm is False
    assert [type(f) for f in call.llm.pushed] == [TTSSpeakFrame, EndWorkerFrame]
    speak, end = call.llm.pushed
    assert isinstance(speak, TTSSpeakFrame) and isinstance(end, EndWorkerFrame)
    # Always the confirming line: the person must hear they won't be called again.
    assert speak.text == OPT_OUT_GOODBYE
    assert "don't call you again" in speak.text
    assert speak.interruptible is False
    assert end.reason == OPT_OUT_REASON


async def test_the_goodbyes_are_in_the_call_s_language() -> None:
    spanish = call_lines("es")
    ended: list[str] = []
    llm = FakeLLM()

    async def result(_result: Any, *, properties: Any = None) -> None:
        return None

    params = SimpleNamespace(arguments={}, llm=llm, result_callback=result)
    await _call(end_call_handler(ended.append, default_goodbye=spanish.goodbye), params)
    await _call(opt_out_handler(ended.append, goodbye=spanish.opt_out_goodbye), params)
    said = [f.text for f in llm.pushed if isinstance(f, TTSSpeakFrame)]
    assert said == [spanish.goodbye, spanish.opt_out_goodbye]
    assert said[0] == "Gracias por hablar conmigo hoy. ¡Adiós, y cuídese mucho!"
