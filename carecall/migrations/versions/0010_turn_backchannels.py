"""Turn-taking: `conversation_turns.backchannels`, what the caller said during an answer only to
keep it going ("Mm-hm. / Yes."), kept with that answer instead of being answered; and
`seniors.turn_patience`, each person's pause profile (1.0: none learnt yet).

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backchannels", sa.Text(), nullable=True))
    with op.batch_alter_table("seniors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("turn_patience", sa.Float(), server_default="1.0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("seniors", schema=None) as batch_op:
        batch_op.drop_column("turn_patience")
    with op.batch_alter_table("conversation_turns", schema=None) as batch_op:
        batch_op.drop_column("backchannels")
