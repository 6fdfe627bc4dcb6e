"""What the caller's words say about their turn (`pipeline.turn_words`)."""

from __future__ import annotations

import pytest

from carecall.pipeline.turn_words import TurnEnding, is_backchannel, turn_ending

COMPLETE = TurnEnding.COMPLETE
UNSURE = TurnEnding.UNSURE
INCOMPLETE = TurnEnding.INCOMPLETE


@pytest.mark.parametrize(
    ("text", "ending"),
    [
        ("Yes.", COMPLETE),
        ("Not too bad.", COMPLETE),
        ("I slept well last night.", COMPLETE),
        ("I think so.", COMPLETE),
        ("I did.", COMPLETE),
        ("I like that.", COMPLETE),
        ("No!", COMPLETE),
        ("Is it raining?", COMPLETE),
        # Stopped mid-clause: patience.
        ("I went to the shop and", INCOMPLETE),
        ("I went to the shop and...", INCOMPLETE),
        ("Well, I had a", INCOMPLETE),
        ("My knee hurts, but", INCOMPLETE),
        ("I had my breakfast, and then I", INCOMPLETE),
        ("I was going to", INCOMPLETE),
        ("because", INCOMPLETE),
        ("Um.", INCOMPLETE),
        ("um", INCOMPLETE),
        ("I took my tablets, um", INCOMPLETE),
        ("I was thinking about the…", INCOMPLETE),
        ("I saw my daughter -", INCOMPLETE),
        ("It was the", INCOMPLETE),
        # A word a clause rarely ends on: unsure with a full stop, unfinished without.
        ("Come on.", UNSURE),
        ("I wanted to tell you about", INCOMPLETE),
        # No punctuation and nothing dangling: can't tell.
        ("I slept well", UNSURE),
        ("", UNSURE),
        ("...", UNSURE),
    ],
)
def test_turn_ending(text: str, ending: TurnEnding) -> None:
    assert turn_ending(text) is ending


@pytest.mark.parametrize(
    "text",
    [
        "Mm-hm.",
        "mm hmm",
        "Mhm.",
        "Uh-huh.",
        "Yes.",
        "Yeah, yeah.",
        "Okay.",
        "Oh!",
        "Oh dear.",
        "I see.",
        "Right.",
        "Ha ha.",
        "[laughs]",
        "(coughs)",
        "",
        "  ",
    ],
)
def test_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text",
    [
        "Wait.",
        "Sorry?",
        "Pardon?",
        "Stop.",
        "Hang on.",
        "What did you say?",
        "No.",
        "Yes, but I wanted to say something.",
        "Oh, I forgot to tell you",
        "Okay, goodbye.",
    ],
)
def test_what_is_not_a_backchannel(text: str) -> None:
    assert not is_backchannel(text)
