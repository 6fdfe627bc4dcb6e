"""Extensions: processors from other installed packages that join every call, without editing
carecall.

A package offers a *processor factory* under the entry point group `carecall.processors`::

    [project.entry-points."carecall.processors"]
    word-count = "carecall_word_count:WordCount"

The factory is called once for each call with the call's `CallContext` and returns a pipecat
`FrameProcessor` for that call (or None to stay out of it). It says where its processor goes
in a ``place`` attribute (a class attribute when the factory is the processor's class):

- ``after_stt``: after speech-to-text and the line screen, before the user aggregator: the
  person's transcripts (`TranscriptionFrame`) and, still, their audio;
- ``before_llm``: after the user aggregator, just before the model (and the reply gate, so a
  reply it starts is held back like any other while the line isn't the person);
- ``after_tts``: after text-to-speech and the hold cue, before the line's output: the bot's
  audio (`TTSAudioRawFrame`) and words (`TTSTextFrame`).

Extensions are off unless named in the EXTENSIONS setting (``EXTENSIONS=word-count,other``):
installing a package changes nothing by itself. The named ones are loaded when the server
starts (`bot.services.ServiceClients`), where an unknown name, or a factory without a place, is
an error that says what is installed. A factory that fails for one call leaves that call
without its processor, logged; the call goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Literal, get_args

from loguru import logger
from pipecat.processors.frame_processor import FrameProcessor

from carecall.settings import Settings

ENTRY_POINT_GROUP = "carecall.processors"
Place = Literal["after_stt", "before_llm", "after_tts"]
PLACES: tuple[Place, ...] = get_args(Place)

Figure = int | float | str
"""What an extension may report about a call: a number, or a short text."""


class ExtensionError(ValueError):
    """EXTENSIONS names something that can't join a call; the message says what to do."""


class CallContext:
    """What an extension's factory knows of the call it makes a processor for."""

    def __init__(
        self, call_id: int, settings: Settings, report: Callable[[str, Figure], None]
    ) -> None:
        self.call_id = call_id
        """The call's id (`/api/calls/{call_id}`)."""
        self.settings = settings
        self._report = report

    def report(self, name: str, value: Figure) -> None:
        """Add a figure to the call's events: a `call.figure` event, ``{"name", "value"}``, on
        the event bus (the dashboard's feed, other instances through Redis). Never waits: safe
        from a processor, on the real-time path. Not stored."""
        self._report(name, value)


ProcessorFactory = Callable[[CallContext], FrameProcessor | None]


@dataclass(frozen=True)
class Extension:
    """One extension named in EXTENSIONS, loaded."""

    name: str
    place: Place
    factory: ProcessorFactory


@dataclass
class ExtensionProcessors:
    """One call's processors from its extensions, by place in the pipeline."""

    after_stt: list[FrameProcessor] = field(default_factory=list)
    before_llm: list[FrameProcessor] = field(default_factory=list)
    after_tts: list[FrameProcessor] = field(default_factory=list)


def extension_names(setting: str) -> list[str]:
    """EXTENSIONS (``"word-count, other"``) → the names, in order, each once."""
    return list(dict.fromkeys(name.strip() for name in setting.split(",") if name.strip()))


def load_extensions(
    names: Sequence[str], available: Iterable[EntryPoint] | None = None
) -> tuple[Extension, ...]:
    """The extensions called ``names``, from the installed packages' entry points (or from
    ``available``). Raises `ExtensionError` for a name no package offers, or a factory that
    can't be loaded or doesn't say where it goes."""
    if not names:
        return ()
    offered = {
        point.name: point
        for point in (entry_points(group=ENTRY_POINT_GROUP) if available is None else available)
    }
    loaded = []
    for name in names:
        point = offered.get(name)
        if point is None:
            installed = ", ".join(sorted(offered)) or "none"
            raise ExtensionError(
                f"EXTENSIONS names '{name}', but no installed package offers a processor by "
                f"that name (entry point group {ENTRY_POINT_GROUP}; installed: {installed}). "
                "Install its package, or take the name out of EXTENSIONS."
            )
        try:
            factory = point.load()
        except Exception as exc:
            raise ExtensionError(
                f"The extension '{name}' ({point.value}) can't be loaded: {exc!r}"
            ) from exc
        place = getattr(factory, "place", None)
        if place not in PLACES or not callable(factory):
            raise ExtensionError(
                f"The extension '{name}' ({point.value}) must be a processor factory with a "
                f"`place` attribute, one of {', '.join(PLACES)}; it has {place!r}."
            )
        loaded.append(Extension(name, place, factory))
        logger.info(f"Extension '{name}' joins every call ({place}: {point.value})")
    return tuple(loaded)


def processors_for(extensions: Sequence[Extension], context: CallContext) -> ExtensionProcessors:
    """What each extension adds to the call of ``context``, by place."""
    made = ExtensionProcessors()
    for extension in extensions:
        try:
            processor = extension.factory(context)
        except Exception:
            logger.bind(call_id=context.call_id).exception(
                f"The extension '{extension.name}' failed to make its processor; the call goes "
                "on without it"
            )
            continue
        if processor is not None:
            getattr(made, extension.place).append(processor)
    return made
