"""Token origins: API login ("login") told apart from POST tokens ("api")

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 13:40:00.000000

Both used to be stored as "api". A token made by API login is the one its member's "api.login" audit
event names (every login records one, with the token's public id), so existing rows are told apart by it;
the others were made by POST tokens and stay "api".
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('created_via',
               existing_type=sa.String(length=3),
               type_=sa.String(length=8),
               existing_nullable=False)
    op.execute(
        "UPDATE api_token SET created_via = 'login' WHERE created_via = 'api' AND EXISTS ("
        "SELECT 1 FROM audit_event WHERE audit_event.account_id = api_token.account_id"
        " AND audit_event.action = 'api.login' AND audit_event.subject = api_token.public_id)")


def downgrade():
    op.execute("UPDATE api_token SET created_via = 'api' WHERE created_via = 'login'")
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('created_via',
               existing_type=sa.String(length=8),
               type_=sa.String(length=3),
               existing_nullable=False)
