"""Extensions (`processors.extensions`): processor factories found by entry point, switched on by
EXTENSIONS, each in its place in every call's pipeline; an unknown name stops the start-up.
(The example package, installed and heard in a real call: `tests/e2e/test_extension_e2e.py`.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, MutableMapping
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator
from pipecat.processors.frame_processor import FrameProcessor
from starlette.websockets import WebSocket

from carecall.bot.builder import MediaStream, build_call_worker, twilio_line
from carecall.bot.services import ServiceClients, build_call_services
from carecall.pipeline.events import CallFigure, CallRecord
from carecall.processors.extensions import (
    ENTRY_POINT_GROUP,
    CallContext,
    ExtensionError,
    extension_names,
    load_extensions,
    processors_for,
)
from carecall.processors.hold_cue import HoldCue
from carecall.processors.playback_marks import PlaybackMarks
from carecall.processors.reply_gate import ReplyGate
from carecall.server import create_app
from carecall.settings import Settings
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

HERE = __name__


class Heard(FrameProcessor):
    """Reports that it was made for the call."""

    place: ClassVar[str] = "after_stt"

    def __init__(self, context: CallContext) -> None:
        super().__init__(enable_direct_mode=True)
        context.report("made_for", context.call_id)


class BeforeModel(FrameProcessor):
    place: ClassVar[str] = "before_llm"

    def __init__(self, _context: CallContext) -> None:
        super().__init__(enable_direct_mode=True)


class AfterVoice(FrameProcessor):
    place: ClassVar[str] = "after_tts"

    def __init__(self, _context: CallContext) -> None:
        super().__init__(enable_direct_mode=True)


def stays_out(_context: CallContext) -> FrameProcessor | None:
    return None


stays_out.place = "after_tts"  # type: ignore[attr-defined]


def breaks(_context: CallContext) -> FrameProcessor | None:
    raise RuntimeError("this extension is broken")


breaks.place = "before_llm"  # type: ignore[attr-defined]


def nowhere(_context: CallContext) -> FrameProcessor:
    return FrameProcessor()


OFFERED = [
    EntryPoint(name, f"{HERE}:{attr}", ENTRY_POINT_GROUP)
    for name, attr in [
        ("heard", "Heard"),
        ("before-model", "BeforeModel"),
        ("after-voice", "AfterVoice"),
        ("stays-out", "stays_out"),
        ("breaks", "breaks"),
        ("nowhere", "nowhere"),
        ("missing", "NoSuchThing"),
    ]
]


class Sink:
    def __init__(self) -> None:
        self.items: list[CallRecord] = []

    def submit(self, item: CallRecord) -> None:
        self.items.append(item)


def test_extensions_are_named_in_a_comma_separated_setting() -> None:
    assert extension_names("") == []
    assert extension_names(" word-count, other ,,word-count") == ["word-count", "other"]


def test_none_are_loaded_unless_named(make_settings: Callable[..., Settings]) -> None:
    assert load_extensions([], OFFERED) == ()
    assert ServiceClients(make_settings()).extensions == ()


def test_an_unknown_name_is_an_error_that_lists_what_is_installed() -> None:
    with pytest.raises(ExtensionError) as refused:
        load_extensions(["word-cuont"], OFFERED[:2])
    assert str(refused.value) == (
        "EXTENSIONS names 'word-cuont', but no installed package offers a processor by that "
        "name (entry point group carecall.processors; installed: before-model, heard). "
        "Install its package, or take the name out of EXTENSIONS."
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nowhere", "must be a processor factory with a `place` attribute, one of after_stt, "),
        ("missing", "can't be loaded: AttributeError"),
    ],
)
def test_a_factory_that_cant_join_a_call_is_an_error(name: str, message: str) -> None:
    with pytest.raises(ExtensionError, match=f"The extension '{name}'") as refused:
        load_extensions([name], OFFERED)
    assert message in str(refused.value)


def test_the_server_does_not_start_with_an_unknown_extension(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(
        make_settings(extensions="no-such-extension"),
        twilio_http_client=FakeAsyncTwilioHttpClient(),
    )
    refused = pytest.raises(ExtensionError, match="'no-such-extension', but no installed package")
    with refused, TestClient(app):
        pass


def test_a_factory_that_fails_or_declines_leaves_only_itself_out() -> None:
    loaded = load_extensions(["stays-out", "breaks", "heard"], OFFERED)
    figures: list[tuple[str, object]] = []
    context = CallContext(5, Settings(_env_file=None), lambda n, v: figures.append((n, v)))  # type: ignore[call-arg]
    made = processors_for(loaded, context)
    assert [type(p) for p in made.after_stt] == [Heard]
    assert made.before_llm == [] and made.after_tts == []
    assert figures == [("made_for", 5)]


def _flat(processor: FrameProcessor) -> list[FrameProcessor]:
    if isinstance(processor, Pipeline):
        return [inner for p in processor.processors for inner in _flat(p)]
    return [processor]


async def _nothing() -> dict[str, Any]:
    return {"type": "websocket.disconnect"}


async def _ignore(_message: MutableMapping[str, Any]) -> None:
    return None


async def test_each_extension_takes_its_place_in_a_call(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    clients = ServiceClients(settings)
    try:
        services = dataclasses.replace(
            build_call_services(settings, clients, system_prompt="Be kind."),
            extensions=load_extensions(["after-voice", "before-model", "heard"], OFFERED),
        )
        websocket = WebSocket({"type": "websocket", "headers": []}, _nothing, _ignore)
        sink = Sink()
        built = build_call_worker(
            twilio_line(websocket, MediaStream(9, "CA9", "MZ9"), settings),
            call_id=9,
            settings=settings,
            services=services,
            sink=sink,
            on_bot_ends_call=lambda _reason: None,
        )
    finally:
        await clients.aclose()
    order = _flat(built.worker.pipeline)

    def at(kind: type[FrameProcessor] | FrameProcessor) -> int:
        if isinstance(kind, FrameProcessor):
            return order.index(kind)
        return next(i for i, p in enumerate(order) if isinstance(p, kind))

    assert at(services.stt) < at(Heard) < at(LLMUserAggregator)
    assert at(LLMUserAggregator) < at(BeforeModel) < at(ReplyGate) < at(services.llm)  # type: ignore[arg-type]
    assert at(services.tts) < at(HoldCue) < at(AfterVoice) < at(PlaybackMarks)
    # What an extension reports goes to the call's events (through the record writer).
    assert sink.items == [CallFigure(9, "made_for", 9)]
    assert CallFigure(9, "made_for", 9).to_event().data == {"name": "made_for", "value": 9}
