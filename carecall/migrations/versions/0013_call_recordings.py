"""Recordings, only with consent: `seniors.consent_recording` (the consent record says that
recording was agreed), `seniors.record_calls` (the per-person setting, allowed only with it),
and `call_recordings` (one file per recorded call, known from the moment it is started).

Revision ID: 0013_recordings
Revises: 0012_call_steps
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_recordings"
down_revision: str | None = "0012_call_steps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("seniors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_recording", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("record_calls", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=100), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("dropped_seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_recordings_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_recordings_call_id")),
        sa.UniqueConstraint("file_name", name=op.f("uq_call_recordings_file_name")),
    )


def downgrade() -> None:
    op.drop_table("call_recordings")
    with op.batch_alter_table("seniors", schema=None) as batch_op:
        batch_op.drop_column("record_calls")
        batch_op.drop_column("consent_recording")
