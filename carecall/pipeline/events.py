"""What a call's pipeline records as the conversation goes: its turns and the facts learnt about
the call, the steps carecall took beyond talking (a hand-over to a caregiver), and the figures
extensions report. The recorder stores them (figures are only
published) and publishes them on the event bus (`core.events`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from carecall.core.events import CallEvent
from carecall.persistence.models import TurnRole
from carecall.persistence.recordings import RecordingFacts


@dataclass(frozen=True)
class TurnRecord:
    """One finished utterance of the caller or the bot, in call order."""

    call_id: int
    sequence: int
    role: TurnRole
    text: str
    started_at: datetime
    ended_at: datetime | None
    interrupted: bool = False
    latency_ms: int | None = None
    backchannels: str | None = None
    """What the caller said during this answer only to keep it going ("Mm-hm. / Yes.")."""

    def to_event(self) -> CallEvent:
        data = asdict(self)
        data["role"] = self.role.value
        del data["call_id"]
        return CallEvent("call.turn", self.call_id, data)


@dataclass(frozen=True)
class CallNote:
    """A fact about the call learnt during the conversation: an error, or why it ended, and
    whether the person asked never to be called again (stored as do-not-call)."""

    call_id: int
    error: str | None = None
    end_reason: str | None = None
    opted_out: bool = False
    turn_patience: float | None = None
    """The person's pause profile after this call (`pipeline.turns.next_patience`)."""
    recording: RecordingFacts | None = None
    """The call's recording (`calls.recordings`): its file when it starts, its length at the
    end."""


@dataclass(frozen=True)
class CallFigure:
    """A figure an extension reports about a call (`processors.extensions.CallContext.report`):
    published as a `call.figure` event, not stored."""

    call_id: int
    name: str
    value: int | float | str

    def to_event(self) -> CallEvent:
        return CallEvent("call.figure", self.call_id, {"name": self.name, "value": self.value})


@dataclass(frozen=True)
class StepRecord:
    """One step of what carecall did during the call beyond talking (the warm hand-over to a
    caregiver: `calls.handover`), numbered in order within the call: stored once and published
    as a `call.step` event."""

    call_id: int
    sequence: int
    kind: str
    text: str
    at: datetime

    def to_event(self) -> CallEvent:
        data = asdict(self)
        del data["call_id"]
        return CallEvent("call.step", self.call_id, data)


CallRecord = TurnRecord | CallNote | CallFigure | StepRecord
"""What a call's pipeline hands the record writer."""
