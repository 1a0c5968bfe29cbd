"""Drop the recording catalogue's session id index: no search uses it, and each index costs the sync.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 07:36:51.554552
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recording_session_id'))


def downgrade() -> None:
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recording_session_id'), ['session_id'], unique=False)
