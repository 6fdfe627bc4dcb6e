"""What a scripted dialogue answers, between the one that writes the answers (the guided
check-in, `bot.checkin.CheckinDialogue`) and the processor that speaks them in the model's place
(`processors.guided_dialogue.GuidedDialogue`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CallEnd:
    """How the dialogue ends the call: a goodbye said whole, then a hang-up for `reason`."""

    goodbye: str
    reason: str
    opted_out: bool = False
    """The caller asked never to be called again."""


@dataclass(frozen=True)
class Reply:
    """The bot's answer to one caller turn: sentences said as an answer, then maybe the end."""

    sentences: tuple[str, ...] = ()
    end: CallEnd | None = None


class Dialogue(Protocol):
    def reply(self, words: str) -> Reply:
        """The answer to the caller's words (``""`` when the turn had no words)."""
        ...
