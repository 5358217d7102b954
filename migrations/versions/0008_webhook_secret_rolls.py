"""Webhooks: a new signing secret with the old one still signing for a while; the log pruned by age

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 03:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_salt', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('previous_until', sa.DateTime(), nullable=True))
    # The minute sweep deletes messages older than WEBHOOK_LOG_DAYS: a range on created_at, not a full scan.
    with op.batch_alter_table('webhook_message', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_message_created', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_message', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_message_created')
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_column('previous_until')
        batch_op.drop_column('previous_salt')
