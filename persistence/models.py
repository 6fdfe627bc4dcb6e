"""Typed SQLAlchemy 2 models: one `Call` per Twilio call SID, its `ConversationTurn`s in order."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    last_callback_sequence: Mapped[int | None] = mapped_column(Integer)

    turns: Mapped[list[ConversationTurn]] = relationship(
        back_populates="call",
        order_by="ConversationTurn.sequence",
        cascade="all, delete-orphan",
        lazy="raise",
    )


class ConversationTurn(Base):
    __tablename__ = "conversation_turns"
    __table_args__ = (UniqueConstraint("call_id", "sequence", name="uq_turn_call_sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    role: Mapped[TurnRole] = mapped_column(_enum(TurnRole, "turn_role"))
    text: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int | None] = mapped_column(Integer)

    call: Mapped[Call] = relationship(back_populates="turns", lazy="raise")


class Operator(Base):
    """A person who uses the dashboard (care-service staff)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A key a program uses for the API (`Authorization: Bearer …`). Only its hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
