"""Audit events say which token they are about: room for its name, hint, scope and expiry

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('detail',
               existing_type=sa.String(length=200),
               type_=sa.String(length=400),
               existing_nullable=True)


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('detail',
               existing_type=sa.String(length=400),
               type_=sa.String(length=200),
               existing_nullable=True)
