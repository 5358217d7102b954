"""Token lifecycle: rotation's grace, the tokens a token made, expiry warnings, the token policy, notices

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# Plain ALTER TABLE ADD/DROP COLUMN (SQLite has both since 3.35), never a batch "move and copy": on SQLite,
# dropping the old account table to copy it would cascade to every membership and token.

def upgrade():
    op.add_column('api_token', sa.Column('replaced_at', sa.DateTime(), nullable=True))
    op.add_column('api_token', sa.Column('made_by_digest', sa.String(length=64), nullable=True))
    op.create_index('ix_api_token_made_by_digest', 'api_token', ['made_by_digest'], unique=False)
    op.add_column('api_token', sa.Column('expiry_warned_days', sa.Integer(), nullable=True))
    op.add_column('account', sa.Column('token_max_days', sa.Integer(), nullable=True))
    op.add_column('account', sa.Column('tokens_must_expire', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.create_table(
        'notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('text', sa.String(length=600), nullable=False),
        sa.Column('token_id', sa.String(length=12), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notice_member_id', 'notice', ['member_id'], unique=False)


def downgrade():
    op.drop_index('ix_notice_member_id', table_name='notice')
    op.drop_table('notice')
    op.drop_column('account', 'tokens_must_expire')
    op.drop_column('account', 'token_max_days')
    op.drop_column('api_token', 'expiry_warned_days')
    op.drop_index('ix_api_token_made_by_digest', table_name='api_token')
    op.drop_column('api_token', 'made_by_digest')
    op.drop_column('api_token', 'replaced_at')
