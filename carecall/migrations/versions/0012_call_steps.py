"""`call_steps`: what carecall did during a call beyond talking, step by step (the warm hand-over
to a caregiver: dialling, declined, accepted, connected, nobody accepted), in order and never
stored twice (unique per call and sequence).

Revision ID: 0012_call_steps
Revises: 0011_reports
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_call_steps"
down_revision: str | None = "0011_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_steps_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_steps")),
        sa.UniqueConstraint("call_id", "sequence", name="uq_call_step_sequence"),
    )
    with op.batch_alter_table("call_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_steps_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_steps_call_id"))
    op.drop_table("call_steps")
