"""Webhooks: new signing secrets with the old ones still signing for a while; the log pruned by age

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

# Plain ADD/DROP COLUMN and CREATE/DROP INDEX, never a batch "move and copy": on SQLite that drops the webhook
# table, and with foreign keys on, its messages and their log go with it (ON DELETE CASCADE).


def upgrade():
    op.add_column('webhook', sa.Column('old_salts', sa.JSON(), nullable=False, server_default='[]'))
    # The minute sweep deletes messages older than WEBHOOK_LOG_DAYS: a range on created_at, not a full scan.
    op.create_index('ix_webhook_message_created', 'webhook_message', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_webhook_message_created', table_name='webhook_message')
    op.drop_column('webhook', 'old_salts')
