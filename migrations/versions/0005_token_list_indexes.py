"""Token lists: indexes for paging newest first by (created_at, id)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # The member's index gains the list's order; its (account_id, member_id) prefix still serves the counts.
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index('ix_api_token_account_created', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_api_token_account_member_created', ['account_id', 'member_id', 'created_at', 'id'],
                              unique=False)
        batch_op.drop_index('ix_api_token_account_member')


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index('ix_api_token_account_member', ['account_id', 'member_id'], unique=False)
        batch_op.drop_index('ix_api_token_account_member_created')
        batch_op.drop_index('ix_api_token_account_created')
