"""The outcomes report: indexes on the moments it counts by, holding what it counts, so a year
of a program is read from indexes alone (`persistence.reports`). Check-ins by their window's
start (with outcome and tries), phone calls by their start (with channel, answer and duration)
and by person, escalations by when they were opened, wellbeing records' levels by their call,
and answers' latencies by their start and by their value (only turns that have one; PostgreSQL
uses the first, SQLite the second: `persistence.reports._latency`).

Revision ID: 0011_reports
Revises: 0010
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_reports"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ANSWERS = sa.text("latency_ms IS NOT NULL")
_MEASURES = [
    "mood",
    "sleep",
    "eating",
    "pain",
    "medication",
    "social_contact",
    "loneliness",
    "mobility",
    "confusion",
]
"""The wellbeing measures' columns as they are at this revision (`call_records`)."""


def upgrade() -> None:
    op.create_index("ix_checkins_report", "checkins", ["window_start_at", "outcome", "attempts"])
    op.create_index(
        "ix_calls_report", "calls", ["created_at", "channel", "answered_at", "duration_seconds"]
    )
    op.create_index("ix_calls_senior_id_created_at", "calls", ["senior_id", "created_at"])
    op.create_index("ix_escalations_created_at", "escalations", ["created_at"])
    op.create_index("ix_call_records_report", "call_records", ["call_id", *_MEASURES])
    op.create_index(
        "ix_conversation_turns_latency",
        "conversation_turns",
        ["started_at", "latency_ms"],
        sqlite_where=_ANSWERS,
        postgresql_where=_ANSWERS,
    )
    op.create_index(
        "ix_conversation_turns_latency_value",
        "conversation_turns",
        ["latency_ms", "started_at"],
        sqlite_where=_ANSWERS,
        postgresql_where=_ANSWERS,
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_turns_latency_value", table_name="conversation_turns")
    op.drop_index("ix_conversation_turns_latency", table_name="conversation_turns")
    op.drop_index("ix_call_records_report", table_name="call_records")
    op.drop_index("ix_escalations_created_at", table_name="escalations")
    op.drop_index("ix_calls_senior_id_created_at", table_name="calls")
    op.drop_index("ix_calls_report", table_name="calls")
    op.drop_index("ix_checkins_report", table_name="checkins")
