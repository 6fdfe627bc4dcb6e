"""What the dashboard shows of a call, its turns and its steps: plain JSON-ready dicts, made in
one place for the server-rendered pages and the live websocket, so both say the same thing.

Phone numbers are masked here (`mask_phone_number`); labels are written for care staff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from carecall.core.end_reasons import (
    BOT_HANGUP,
    CALLER_HANGUP,
    OPERATOR_HANGUP,
    SERVER_STOPPED,
    STREAM_CLOSED,
)
from carecall.core.events import CallEvent
from carecall.core.phones import mask_phone_number
from carecall.persistence.models import Call, CallChannel, CallStatus, CallStep, ConversationTurn

CallView = dict[str, Any]
TurnView = dict[str, Any]
StepView = dict[str, Any]

STATUS_LABELS: dict[CallStatus, str] = {
    CallStatus.CREATED: "Created",
    CallStatus.QUEUED: "Queued",
    CallStatus.INITIATED: "Dialling",
    CallStatus.RINGING: "Ringing",
    CallStatus.IN_PROGRESS: "In progress",
    CallStatus.COMPLETED: "Completed",
    CallStatus.BUSY: "Busy",
    CallStatus.NO_ANSWER: "No answer",
    CallStatus.CANCELED: "Canceled",
    CallStatus.FAILED: "Failed",
}
# Bootstrap colours (`text-bg-…`); every pairing meets WCAG AA contrast.
STATUS_TONES: dict[CallStatus, str] = {
    CallStatus.CREATED: "secondary",
    CallStatus.QUEUED: "secondary",
    CallStatus.INITIATED: "info",
    CallStatus.RINGING: "info",
    CallStatus.IN_PROGRESS: "primary",
    CallStatus.COMPLETED: "success",
    CallStatus.BUSY: "warning",
    CallStatus.NO_ANSWER: "warning",
    CallStatus.CANCELED: "secondary",
    CallStatus.FAILED: "danger",
}
SPEAKERS = {"user": "Caller", "assistant": "Carecall"}
_END_REASONS = {
    CALLER_HANGUP: "The person hung up",
    OPERATOR_HANGUP: "Hung up from the dashboard",
    STREAM_CLOSED: "The audio connection closed",
    SERVER_STOPPED: "Its server stopped mid-call (closed from Twilio's record)",
    "completed": "Call completed",
    "busy": "The line was busy",
    "no-answer": "No answer",
    "failed": "The call could not be placed",
    "canceled": "Canceled before it was answered",
}


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with its offset (every stored moment comes back aware, in UTC)."""
    return None if moment is None else moment.isoformat()


def end_reason_label(reason: str | None) -> str:
    if not reason:
        return ""
    if reason.startswith(BOT_HANGUP):
        _, _, why = reason.partition(":")
        return "Carecall said goodbye" + (f" ({why.strip()})" if why.strip() else "")
    return _END_REASONS.get(reason, reason)


def duration_label(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(max(seconds, 0), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def call_view(call: Call) -> CallView:
    view: CallView = {
        "id": call.id,
        "url": f"/calls/{call.id}",
        **_naming(call),
        "channel": call.channel.value,
        "created_at": iso(call.created_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "answered_by": call.answered_by,
        "duration_seconds": call.duration_seconds,
        "end_reason": call.end_reason,
        "error": call.error,
        "media": None,
    }
    _set_status(view, call.status)
    _relabel(view)
    return view


def _naming(call: Call) -> dict[str, str]:
    """How pages name a call. A talk in the browser or a demo call has no number (`number` is
    empty): its name says what it was instead, and is not set as a number (monospace)."""
    if call.channel is CallChannel.PHONE:
        number = mask_phone_number(call.to_number)
        return {
            "number": number,
            "label": number,
            "title": f"Call to {number}",
            "the_call": f"the call to {number}",
        }
    name = "Demo call" if call.channel is CallChannel.DEMO else "Talk in the browser"
    return {
        "number": "",
        "label": name,
        "title": name,
        "the_call": f"the {name[0].lower()}{name[1:]}",
    }


def turn_view(turn: ConversationTurn | dict[str, Any]) -> TurnView:
    """A stored turn, or the `data` of a `call.turn` event."""
    if isinstance(turn, ConversationTurn):
        data: dict[str, Any] = {
            "sequence": turn.sequence,
            "role": turn.role.value,
            "text": turn.text,
            "started_at": iso(turn.started_at),
            "ended_at": iso(turn.ended_at),
            "interrupted": turn.interrupted,
            "latency_ms": turn.latency_ms,
            "backchannels": turn.backchannels,
        }
    else:
        data = {
            key: iso(value) if isinstance(value, datetime) else value for key, value in turn.items()
        }
    role = str(data.get("role", ""))
    return {
        "sequence": int(data["sequence"]),
        "role": role,
        "speaker": SPEAKERS.get(role, role),
        "text": str(data.get("text") or ""),
        "started_at": data.get("started_at"),
        "ended_at": data.get("ended_at"),
        "interrupted": bool(data.get("interrupted")),
        "latency_ms": data.get("latency_ms"),
        "backchannels": data.get("backchannels"),
    }


_STEP_LABELS: dict[str, tuple[str, str]] = {
    "dialling": ("Calling", "info"),
    "answered": ("Answered", "info"),
    "accepted": ("Accepted", "success"),
    "declined": ("Declined", "secondary"),
    "no_answer": ("No answer", "secondary"),
    "unreachable": ("Couldn't call", "warning"),
    "bridged": ("Connected", "success"),
    "bridge_failed": ("Couldn't connect", "danger"),
    "gave_up": ("Nobody took it", "danger"),
    "cancelled": ("Cancelled", "secondary"),
}
"""A hand-over step's badge (`calls.handover.Step`): its words and Bootstrap colour."""


def step_view(step: CallStep | dict[str, Any]) -> StepView:
    """A stored step of a call, or the `data` of a `call.step` event."""
    if isinstance(step, CallStep):
        data: dict[str, Any] = {
            "sequence": step.sequence,
            "kind": step.kind,
            "text": step.text,
            "at": iso(step.at),
        }
    else:
        data = {k: iso(v) if isinstance(v, datetime) else v for k, v in step.items()}
    kind = str(data.get("kind") or "")
    label, tone = _STEP_LABELS.get(kind, (kind.replace("_", " ").capitalize(), "secondary"))
    return {
        "sequence": int(data["sequence"]),
        "kind": kind,
        "label": label,
        "tone": tone,
        "text": str(data.get("text") or ""),
        "at": data.get("at"),
    }


def apply_event(view: CallView, event: CallEvent) -> bool:
    """Fold one bus event into a call's view; True if anything shown changed.

    Idempotent and order-tolerant, like the database's own updates: a status only moves
    forward, a specific end reason beats plain "completed", errors accumulate, nothing is erased.
    """
    before = dict(view)
    data = event.data
    now = iso(datetime.now(UTC))
    if event.kind == "call.status":
        raw = data.get("status")
        if isinstance(raw, str) and raw in CallStatus._value2member_map_:
            status = CallStatus(raw)
            if status.rank >= view["status_rank"]:
                _set_status(view, status)
                if status is CallStatus.IN_PROGRESS and view["answered_at"] is None:
                    view["answered_at"] = now
                if status.is_final and view["ended_at"] is None:
                    view["ended_at"] = now
        for key in ("duration_seconds", "answered_by"):
            if data.get(key) is not None:
                view[key] = data[key]
        _merge_end_reason(view, data.get("end_reason"))
        _merge_error(view, data.get("error"))
    elif event.kind == "call.error":
        _merge_error(view, data.get("error"))
    elif event.kind == "call.media":
        view["media"] = data.get("state")
        if data.get("state") == "ended":
            _merge_end_reason(view, data.get("reason"))
    _relabel(view)
    return view != before


def _set_status(view: CallView, status: CallStatus) -> None:
    view["status"] = status.value
    view["status_label"] = STATUS_LABELS[status]
    view["status_tone"] = STATUS_TONES[status]
    view["status_rank"] = status.rank
    view["live"] = not status.is_final


def _relabel(view: CallView) -> None:
    view["end_reason_label"] = end_reason_label(view["end_reason"])
    view["duration_label"] = duration_label(view["duration_seconds"])


def _merge_end_reason(view: CallView, reason: object) -> None:
    if not isinstance(reason, str) or not reason:
        return
    current = view["end_reason"]
    if current is None or (current == "completed" and reason != "completed"):
        view["end_reason"] = reason


def _merge_error(view: CallView, error: object) -> None:
    if not isinstance(error, str) or not error:
        return
    current = view["error"]
    if not current or current in error:
        view["error"] = error
    elif error not in current:
        view["error"] = current + "\n" + error
