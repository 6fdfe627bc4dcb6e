"""Two known conversations, the model's answer for each, and the record that answer must give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from carecall.persistence.models import TurnRole

A, P = TurnRole.ASSISTANT, TurnRole.USER


@dataclass(frozen=True)
class Line:
    """A turn as `wellbeing.records.SpokenTurn` and as the recorder stores it (`TurnLike`)."""

    role: TurnRole
    text: str
    call_id: int = 0
    sequence: int = 0
    started_at: datetime = datetime(2026, 1, 5, 15, 0)
    ended_at: datetime | None = None
    interrupted: bool = False
    latency_ms: int | None = None
    backchannels: str | None = None


def turns_of(call_id: int, lines: Sequence[Line], start: datetime) -> list[Line]:
    """The lines as one call's stored turns, in order."""
    return [
        Line(
            line.role,
            line.text,
            call_id=call_id,
            sequence=i,
            started_at=start + timedelta(seconds=10 * i),
            ended_at=start + timedelta(seconds=10 * i + 5),
        )
        for i, line in enumerate(lines)
    ]


MARY = (
    Line(A, "Hello Mary, it's Sunny. How are you today?"),
    Line(P, "Oh, I'm quite well, thank you. My granddaughter Emma visited on Sunday!"),
    Line(A, "That sounds lovely! How have you been sleeping?"),
    Line(P, "Not so well, my knee was sore most of the night."),
    Line(A, "I'm sorry to hear that. Did you take your tablets this morning?"),
    Line(P, "Yes, I took them with breakfast, like always."),
    Line(A, "Wonderful. Take care, Mary."),
    Line(P, "Goodbye, dear."),
)
MARY_ANSWER: dict[str, Any] = {
    "mood": {"level": 0, "evidence": "I'm quite well"},
    "sleep": {"level": 2, "evidence": "Not so well"},
    "eating": {"level": None, "evidence": ""},
    "pain": {"level": 2, "evidence": "my knee was sore most of the night"},
    "medication": {"level": 0, "evidence": "I took them with breakfast, like always"},
    "social_contact": {"level": 0, "evidence": "My granddaughter Emma visited on Sunday"},
    "loneliness": {"level": None, "evidence": ""},
    "mobility": {"level": None, "evidence": ""},
    "confusion": {"level": None, "evidence": ""},
    "summary": (
        "Mary was in good spirits and had a visit from her granddaughter Emma on Sunday. "
        "Her knee kept her awake, but she took her tablets."
    ),
    "follow_ups": ["her granddaughter Emma visited on Sunday", "her knee was sore at night"],
}
MARY_LEVELS = {
    "mood": 0,
    "sleep": 2,
    "eating": None,
    "pain": 2,
    "medication": 0,
    "social_contact": 0,
    "loneliness": None,
    "mobility": None,
    "confusion": None,
}

JOHN = (
    Line(A, "Good morning John, how are things?"),
    Line(P, "Quiet. Nobody's been round all week; to be honest I feel rather lonely."),
    Line(A, "I'm sorry. Have you been eating alright?"),
    Line(P, "I skipped lunch again, I just don't feel like cooking."),
    Line(A, "Did you take your heart pills today?"),
    Line(P, "I can't remember if I took them. I keep forgetting things."),
)
JOHN_ANSWER: dict[str, Any] = {
    # Case and punctuation differ from the transcript: still the person's words.
    "mood": {"level": 1, "evidence": "quiet"},
    "sleep": {"level": None, "evidence": ""},
    "eating": {"level": 2, "evidence": "I skipped lunch again ... don't feel like cooking"},
    "pain": {"level": None, "evidence": ""},
    "medication": {"level": 1, "evidence": "I can't remember if I took them"},
    "social_contact": {"level": 3, "evidence": "Nobody's been round all week"},
    "loneliness": {"level": 2, "evidence": "I feel rather lonely"},
    # Words John never said: left out as not discussed.
    "mobility": {"level": 1, "evidence": "my legs feel weak"},
    "confusion": {"level": 1, "evidence": "I keep forgetting things"},
    "summary": (
        "John sounded flat and said nobody had visited all week. "
        "He is skipping meals and wasn't sure he took his heart pills."
    ),
    "follow_ups": [],
}
JOHN_LEVELS = {
    "mood": 1,
    "sleep": None,
    "eating": 2,
    "pain": None,
    "medication": 1,
    "social_contact": 3,
    "loneliness": 2,
    "mobility": None,
    "confusion": 1,
}
