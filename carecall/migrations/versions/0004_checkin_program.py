"""The check-in program: seniors, caregivers, plans, each day's check-ins, escalations, and the
dial pacer; calls know their senior and check-in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dial_pacer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dial_pacer")),
    )
    pacer = sa.table(
        "dial_pacer", sa.column("id", sa.Integer()), sa.column("next_slot", sa.Float())
    )
    op.bulk_insert(pacer, [{"id": 1, "next_slot": 0.0}])
    op.create_table(
        "seniors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("preferred_name", sa.String(length=60), nullable=True),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=100), nullable=True),
        sa.Column("consent_given_by", sa.String(length=100), nullable=True),
        sa.Column("consent_method", sa.String(length=40), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_recorded_by", sa.String(length=254), nullable=True),
        sa.Column("do_not_call", sa.Boolean(), nullable=False),
        sa.Column("do_not_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("do_not_call_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seniors")),
        sa.UniqueConstraint("phone_number", name=op.f("uq_seniors_phone_number")),
    )
    op.create_table(
        "caregivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("senior_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("relation", sa.String(length=60), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.Column(
            "contact_by",
            sa.Enum("sms", "call", name="contact_method", native_enum=False, length=20),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["senior_id"],
            ["seniors.id"],
            name=op.f("fk_caregivers_senior_id_seniors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caregivers")),
    )
    with op.batch_alter_table("caregivers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_caregivers_phone_number"), ["phone_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_caregivers_senior_id"), ["senior_id"], unique=False)

    op.create_table(
        "checkin_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("senior_id", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delay_minutes", sa.Integer(), nullable=False),
        sa.Column("escalation_ack_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["senior_id"],
            ["seniors.id"],
            name=op.f("fk_checkin_plans_senior_id_seniors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_plans")),
    )
    with op.batch_alter_table("checkin_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_plans_senior_id"), ["senior_id"], unique=False)

    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("senior_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("window_start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending", "calling", "done", name="checkin_state", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "completed",
                "voicemail",
                "no-answer",
                "busy",
                "failed",
                "opted-out",
                "skipped",
                name="checkin_outcome",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column(
            "last_result",
            sa.Enum(
                "completed",
                "voicemail",
                "no-answer",
                "busy",
                "failed",
                "opted-out",
                "skipped",
                name="checkin_result",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("current_call_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["checkin_plans.id"],
            name=op.f("fk_checkins_plan_id_checkin_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["senior_id"],
            ["seniors.id"],
            name=op.f("fk_checkins_senior_id_seniors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("plan_id", "local_date", name="uq_checkin_plan_date"),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkins_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_checkins_senior_id"), ["senior_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_checkins_window_end_at"), ["window_end_at"], unique=False
        )

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("senior_id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "acknowledged",
                "exhausted",
                name="escalation_state",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_escalations_checkin_id_checkins"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["senior_id"],
            ["seniors.id"],
            name=op.f("fk_escalations_senior_id_seniors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("checkin_id", name=op.f("uq_escalations_checkin_id")),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalations_senior_id"), ["senior_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalations_state"), ["state"], unique=False)

    op.create_table(
        "escalation_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=True),
        sa.Column("contact_name", sa.String(length=100), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column(
            "method",
            sa.Enum("sms", "call", name="notice_method", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("twilio_sid", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["caregiver_id"],
            ["caregivers.id"],
            name=op.f("fk_escalation_notices_caregiver_id_caregivers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_escalation_notices_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_notices")),
    )
    with op.batch_alter_table("escalation_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escalation_notices_escalation_id"), ["escalation_id"], unique=False
        )

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("senior_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("checkin_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_calls_checkin_id"), ["checkin_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_senior_id"), ["senior_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_calls_senior_id_seniors"),
            "seniors",
            ["senior_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_calls_checkin_id_checkins"),
            "checkins",
            ["checkin_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_calls_checkin_id_checkins"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_calls_senior_id_seniors"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_calls_senior_id"))
        batch_op.drop_index(batch_op.f("ix_calls_checkin_id"))
        batch_op.drop_column("checkin_id")
        batch_op.drop_column("senior_id")

    with op.batch_alter_table("escalation_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_notices_escalation_id"))

    op.drop_table("escalation_notices")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_state"))
        batch_op.drop_index(batch_op.f("ix_escalations_senior_id"))

    op.drop_table("escalations")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkins_window_end_at"))
        batch_op.drop_index(batch_op.f("ix_checkins_senior_id"))
        batch_op.drop_index(batch_op.f("ix_checkins_next_attempt_at"))

    op.drop_table("checkins")
    with op.batch_alter_table("checkin_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_plans_senior_id"))

    op.drop_table("checkin_plans")
    with op.batch_alter_table("caregivers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caregivers_senior_id"))
        batch_op.drop_index(batch_op.f("ix_caregivers_phone_number"))

    op.drop_table("caregivers")
    op.drop_table("seniors")
    op.drop_table("dial_pacer")
