"""Token lifecycle: rotation's grace, the account's token policy, notices

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


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_max_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tokens_must_expire', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    op.create_table(
        'notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('text', sa.String(length=600), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notice_member_id', 'notice', ['member_id'], unique=False)


def downgrade():
    op.drop_index('ix_notice_member_id', table_name='notice')
    op.drop_table('notice')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('tokens_must_expire')
        batch_op.drop_column('token_max_days')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('replaced_at')
