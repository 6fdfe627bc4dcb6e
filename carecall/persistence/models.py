"""Typed SQLAlchemy 2 models.

Calls: one `Call` per Twilio call SID, its `ConversationTurn`s in order. The check-in program:
a `Senior` (the person called) with `Caregiver` contacts and `CheckinPlan`s (recurring windows
in their local time); each day's `Checkin` (one scheduled check-in and its tries), and the
`Escalation` opened when a check-in could not reach the person, with each `EscalationNotice`
sent to a caregiver. Wellbeing: each conversation's `CallRecord` (made after the call by a
`RecordJob`), the person's `SeniorMemory` (a digest of recent calls for the next one), and
`Alert`s (red flags and trends for the care team)."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import expression

from carecall.settings import WELLBEING_MEASURES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment: stored in UTC, and read back timezone-aware in UTC on every database.

    PostgreSQL's `timestamptz` keeps the instant and hands back aware datetimes; SQLite has no
    time zone type: it stores an aware datetime's wall-clock digits without the offset and hands
    back naive datetimes. Converting to UTC on the way in and marking UTC on the way out makes
    both databases give the same answers, so no caller patches a naive datetime (and every
    timestamp the API returns carries its offset). A naive datetime given to it is taken as UTC.
    The column type in the schema (and in the migrations) stays `DateTime(timezone=True)`."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC, timezone-aware; a naive datetime is taken as UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CallStatus(enum.StrEnum):
    """Twilio's call statuses plus `created` (stored, not yet accepted by Twilio)."""

    CREATED = "created"
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Position in a call's life; a call never moves to a lower rank."""
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self.rank == _FINAL_RANK


_FINAL_RANK = 5
_RANK = {
    CallStatus.CREATED: 0,
    CallStatus.QUEUED: 1,
    CallStatus.INITIATED: 2,
    CallStatus.RINGING: 3,
    CallStatus.IN_PROGRESS: 4,
    CallStatus.COMPLETED: _FINAL_RANK,
    CallStatus.BUSY: _FINAL_RANK,
    CallStatus.NO_ANSWER: _FINAL_RANK,
    CallStatus.CANCELED: _FINAL_RANK,
    CallStatus.FAILED: _FINAL_RANK,
}


class CallChannel(enum.StrEnum):
    """How the person and the bot talk: a Twilio phone call, the dashboard's demo call (a
    simulated caller on loopback), or the browser's microphone (WebRTC)."""

    PHONE = "phone"
    DEMO = "demo"
    BROWSER = "browser"


class TurnRole(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a value needs no type migration.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        # The outcomes report: calls counted by their start from the index alone, and a
        # person's calls of a period found person by person.
        Index("ix_calls_report", "created_at", "channel", "answered_at", "duration_seconds"),
        Index("ix_calls_senior_id_created_at", "senior_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    to_number: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[CallChannel] = mapped_column(
        _enum(CallChannel, "call_channel"),
        default=CallChannel.PHONE,
        server_default=CallChannel.PHONE.value,
    )
    from_number: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[CallStatus] = mapped_column(
        _enum(CallStatus, "call_status"), default=CallStatus.CREATED, index=True
    )
    answered_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    last_callback_sequence: Mapped[int | None] = mapped_column(Integer)
    senior_id: Mapped[int | None] = mapped_column(
        ForeignKey("seniors.id", ondelete="SET NULL"), index=True
    )
    checkin_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkins.id", ondelete="SET NULL"), index=True
    )

    turns: Mapped[list[ConversationTurn]] = relationship(
        back_populates="call",
        order_by="ConversationTurn.sequence",
        cascade="all, delete-orphan",
        lazy="raise",
    )


class CallRecording(Base):
    """The recording of one call (`calls.recordings`): a file in RECORDINGS_PATH, known here
    from the moment it is started, so deleting the call, the person or old calls always finds
    it. `seconds` and `size_bytes` are None while it is being recorded."""

    __tablename__ = "call_recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    file_name: Mapped[str] = mapped_column(String(100), unique=True)
    format: Mapped[str] = mapped_column(String(10))
    """`opus` (Opus in Ogg) or `flac`."""
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    seconds: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    dropped_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    """Audio left out because the disk could not keep up (silence in the file instead)."""
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def finished(self) -> bool:
        return self.seconds is not None


class ConversationTurn(Base):
    __tablename__ = "conversation_turns"
    __table_args__ = (
        UniqueConstraint("call_id", "sequence", name="uq_turn_call_sequence"),
        # The outcomes report's answer latencies, read from an index alone, two ways
        # (`persistence.reports._latency`): PostgreSQL finds each week's answers by their
        # start; SQLite counts each latency's answers in each week with one seek.
        Index(
            "ix_conversation_turns_latency",
            "started_at",
            "latency_ms",
            sqlite_where=text("latency_ms IS NOT NULL"),
            postgresql_where=text("latency_ms IS NOT NULL"),
        ),
        Index(
            "ix_conversation_turns_latency_value",
            "latency_ms",
            "started_at",
            sqlite_where=text("latency_ms IS NOT NULL"),
            postgresql_where=text("latency_ms IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    role: Mapped[TurnRole] = mapped_column(_enum(TurnRole, "turn_role"))
    text: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    backchannels: Mapped[str | None] = mapped_column(Text)
    """What the caller said during this answer only to keep it going ("Mm-hm. / Yes.")."""

    call: Mapped[Call] = relationship(back_populates="turns", lazy="raise")


class CallStep(Base):
    """One step of what carecall did during a call beyond talking, in order: today the warm
    hand-over to a caregiver (`calls.handover`: dialling Tom, Tom didn't answer, Anna accepted,
    connected, nobody accepted). Holds names, never phone numbers or the person's words."""

    __tablename__ = "call_steps"
    __table_args__ = (UniqueConstraint("call_id", "sequence", name="uq_call_step_sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    """What happened (`calls.handover.Step`: `dialling`, `declined`, `accepted`, …)."""
    text: Mapped[str] = mapped_column(Text)
    """The step in words, as the call page shows it."""
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class Operator(Base):
    """A person who uses the dashboard (care-service staff)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OperatorSession(Base):
    """One signed-in browser of an operator. The session cookie carries a random token; only
    its hash is kept here. Signing out deletes the row, a password change or deleting the
    operator deletes all of theirs, and a row unused for the idle time is refused: a copied
    cookie then opens nothing, in any process."""

    __tablename__ = "operator_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    """When it last opened something (kept to the minute, not written on every request)."""


class ApiKey(Base):
    """A key a program uses for the API (`Authorization: Bearer …`). Only its hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# --- the check-in program ------------------------------------------------------------------------


class ContactMethod(enum.StrEnum):
    """How a caregiver is told about an escalation."""

    SMS = "sms"
    CALL = "call"


class Senior(Base):
    """A person on the roster: called for check-ins, only with recorded consent and never
    while marked do-not-call."""

    __tablename__ = "seniors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(60))
    phone_number: Mapped[str] = mapped_column(String(32), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    """An IANA zone, e.g. `America/Chicago`: plans and calling hours are in this local time."""
    language: Mapped[str] = mapped_column(String(16), default="en")
    notes: Mapped[str] = mapped_column(Text, default="")
    """For the bot: interests, family names, hearing difficulties."""
    on_behalf_of: Mapped[str | None] = mapped_column(String(100))
    """Who the calls are made for, said in the greeting ("your daughter Susan"); else the
    organization's name."""
    consent_given_by: Mapped[str | None] = mapped_column(String(100))
    consent_method: Mapped[str | None] = mapped_column(String(40))
    consent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    consent_recorded_by: Mapped[str | None] = mapped_column(String(254))
    consent_recording: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=expression.false()
    )
    """The consent record says they also agreed that their calls may be recorded."""
    record_calls: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=expression.false()
    )
    """Record their calls (`calls.recordings`); allowed only with `consent_recording`."""
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_call_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    do_not_call_reason: Mapped[str | None] = mapped_column(String(200))
    turn_patience: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    """Their pause profile: how much longer than usual carecall waits before it takes their
    turn as over, learnt from their calls (`pipeline.turns.next_patience`)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    caregivers: Mapped[list[Caregiver]] = relationship(
        back_populates="senior",
        order_by="Caregiver.position",
        cascade="all, delete-orphan",
        lazy="raise",
    )
    plans: Mapped[list[CheckinPlan]] = relationship(
        back_populates="senior",
        order_by="CheckinPlan.id",
        cascade="all, delete-orphan",
        lazy="raise",
    )

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None

    @property
    def records_calls(self) -> bool:
        """Their calls are recorded: the setting is on and the consent record allows it."""
        return self.record_calls and self.consent_recording and self.has_consent

    @property
    def spoken_name(self) -> str:
        """What the bot calls them: their preferred name, else their first name."""
        return self.preferred_name or self.name.split()[0]


class Caregiver(Base):
    """Someone told when the senior can't be reached; `position` orders the escalation ladder."""

    __tablename__ = "caregivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    senior_id: Mapped[int] = mapped_column(ForeignKey("seniors.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(60), default="")
    phone_number: Mapped[str] = mapped_column(String(32), index=True)
    contact_by: Mapped[ContactMethod] = mapped_column(
        _enum(ContactMethod, "contact_method"), default=ContactMethod.SMS
    )

    senior: Mapped[Senior] = relationship(back_populates="caregivers", lazy="raise")


class CheckinPlan(Base):
    """A recurring check-in: these weekdays, between these local times in the senior's zone."""

    __tablename__ = "checkin_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    senior_id: Mapped[int] = mapped_column(ForeignKey("seniors.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[str] = mapped_column(String(32))
    """Comma-separated, Monday first: `mon,tue,wed,thu,fri`."""
    window_start: Mapped[time] = mapped_column(Time)
    window_end: Mapped[time] = mapped_column(Time)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_delay_minutes: Mapped[int] = mapped_column(Integer, default=15)
    escalation_ack_minutes: Mapped[int] = mapped_column(Integer, default=30)
    """How long a caregiver has to acknowledge before the next one is told."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    senior: Mapped[Senior] = relationship(back_populates="plans", lazy="raise")


class CheckinState(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its next try (`next_attempt_at`)."""
    CALLING = "calling"
    """Claimed by one dispatcher: being dialed, ringing or talking."""
    DONE = "done"


class CheckinOutcome(enum.StrEnum):
    COMPLETED = "completed"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    OPTED_OUT = "opted-out"
    SKIPPED = "skipped"
    """Not called at all: no consent, do-not-call, or the window closed before a try."""

    @property
    def reached(self) -> bool:
        """A conversation happened (an opt-out is one too)."""
        return self in (CheckinOutcome.COMPLETED, CheckinOutcome.OPTED_OUT)


class Checkin(Base):
    """One scheduled check-in (a plan on one local date) and its tries. Unique per plan and
    date, so however many dispatchers schedule it, it exists once."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("plan_id", "local_date", name="uq_checkin_plan_date"),
        # The outcomes report counts check-ins by their window's start from this index alone.
        Index("ix_checkins_report", "window_start_at", "outcome", "attempts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("checkin_plans.id", ondelete="CASCADE"))
    senior_id: Mapped[int] = mapped_column(ForeignKey("seniors.id", ondelete="CASCADE"), index=True)
    local_date: Mapped[date] = mapped_column(Date)
    window_start_at: Mapped[datetime] = mapped_column(UtcDateTime())
    window_end_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    state: Mapped[CheckinState] = mapped_column(
        _enum(CheckinState, "checkin_state"), default=CheckinState.PENDING
    )
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[CheckinOutcome | None] = mapped_column(_enum(CheckinOutcome, "checkin_outcome"))
    last_result: Mapped[CheckinOutcome | None] = mapped_column(
        _enum(CheckinOutcome, "checkin_result")
    )
    """The latest try's result, while tries go on."""
    current_call_id: Mapped[int | None] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(String(200))


class EscalationState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    EXHAUSTED = "exhausted"
    """Every contact was told and none acknowledged: stays on the Today view."""


class Escalation(Base):
    """Caregivers being told, one after another, that a check-in couldn't reach the person."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    senior_id: Mapped[int] = mapped_column(ForeignKey("seniors.id", ondelete="CASCADE"), index=True)
    checkin_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkins.id", ondelete="SET NULL"), unique=True
    )
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[EscalationState] = mapped_column(
        _enum(EscalationState, "escalation_state"), default=EscalationState.OPEN, index=True
    )
    step: Mapped[int] = mapped_column(Integer, default=0)
    """How many contacts have been told so far."""
    next_step_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ack_minutes: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))

    notices: Mapped[list[EscalationNotice]] = relationship(
        order_by="EscalationNotice.id", cascade="all, delete-orphan", lazy="raise"
    )


class EscalationNotice(Base):
    """One message (SMS or call) to one caregiver, as sent."""

    __tablename__ = "escalation_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregivers.id", ondelete="SET NULL")
    )
    contact_name: Mapped[str] = mapped_column(String(100))
    to_number: Mapped[str] = mapped_column(String(32))
    method: Mapped[ContactMethod] = mapped_column(_enum(ContactMethod, "notice_method"))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    twilio_sid: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class DialPacer(Base):
    """One row: the next moment any dispatcher may dial (epoch seconds), so Twilio's
    calls-per-second limit holds across every dispatcher on this database."""

    __tablename__ = "dial_pacer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float, default=0.0)


# --- wellbeing -----------------------------------------------------------------------------------


class RecordJobState(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its next try (`next_try_at`)."""
    RUNNING = "running"
    """Claimed by one worker (`claimed_by`); taken back if that worker vanished."""
    DONE = "done"
    FAILED = "failed"
    """Every try failed; `last_error` says why. The transcript is untouched."""
    SKIPPED = "skipped"
    """Nothing to record: the person said nothing on the call."""


class RecordJob(Base):
    """The post-call work for one call (its `CallRecord` and the person's memory), queued in
    the database so it survives a restart and is done by exactly one worker."""

    __tablename__ = "record_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    state: Mapped[RecordJobState] = mapped_column(
        _enum(RecordJobState, "record_job_state"), default=RecordJobState.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CallRecord(Base):
    """What one conversation said about the person's wellbeing (`wellbeing.records`).

    Each measure's level is ordinal, 0 (good) to 3 (concerning), NULL when it didn't come up,
    kept in its own column so trends can chart and query it; `evidence` maps each measure to
    the person's words that support its level."""

    __tablename__ = "call_records"
    __table_args__ = (
        # The outcomes report counts the levels of a period's records from this index alone
        # (found by their call), not from the records' rows with their summaries and quotes.
        Index("ix_call_records_report", "call_id", *WELLBEING_MEASURES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    senior_id: Mapped[int | None] = mapped_column(
        ForeignKey("seniors.id", ondelete="SET NULL"), index=True
    )
    """Kept with the call: a person deleted from the roster leaves their calls in History."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    model: Mapped[str] = mapped_column(String(100))
    mood: Mapped[int | None] = mapped_column(Integer)
    sleep: Mapped[int | None] = mapped_column(Integer)
    eating: Mapped[int | None] = mapped_column(Integer)
    pain: Mapped[int | None] = mapped_column(Integer)
    medication: Mapped[int | None] = mapped_column(Integer)
    social_contact: Mapped[int | None] = mapped_column(Integer)
    loneliness: Mapped[int | None] = mapped_column(Integer)
    mobility: Mapped[int | None] = mapped_column(Integer)
    confusion: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text)
    follow_ups: Mapped[list[str]] = mapped_column(JSON, default=list)


class SeniorMemory(Base):
    """The digest of a person's recent calls the bot is given before the next one."""

    __tablename__ = "senior_memory"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    senior_id: Mapped[int] = mapped_column(
        ForeignKey("seniors.id", ondelete="CASCADE"), unique=True
    )
    digest: Mapped[str] = mapped_column(Text)
    records_seen: Mapped[int] = mapped_column(Integer, default=0)
    """How many of their call records it was built from: a build that saw fewer (a slower,
    concurrent one) never overwrites it."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


AlertState = Literal["open", "acknowledged"]


class Alert(Base):
    """Something the care team should look at: a red flag heard on a call, or a trend over
    calls. Made by a detector (`rules`, `llm`, `trend`); acknowledged by an operator."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    senior_id: Mapped[int | None] = mapped_column(
        ForeignKey("seniors.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    """`red_flag` or `trend`."""
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="")
    detector: Mapped[str] = mapped_column(String(20))
    """`rules`, `llm` or `trend`."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    """While unacknowledged, what the alert is about (`wellbeing.alerts.open_key`); cleared on
    acknowledging. Unique, so however many processes check at once, one alert is open per
    person and measure (or per call and red-flag category)."""

    notices: Mapped[list[AlertNotice]] = relationship(
        order_by="AlertNotice.id", cascade="all, delete-orphan", lazy="raise"
    )

    @property
    def state(self) -> AlertState:
        """Open until someone acknowledges it."""
        return "open" if self.acknowledged_at is None else "acknowledged"


class AlertNotice(Base):
    """One text message to one caregiver about an alert, as sent (its SID) or failed (why)."""

    __tablename__ = "alert_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregivers.id", ondelete="SET NULL")
    )
    contact_name: Mapped[str] = mapped_column(String(100))
    to_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    twilio_sid: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
