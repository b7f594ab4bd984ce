"""expert profiles

Revision ID: 26da17b6160c
Revises: 627b308fc44b
Create Date: 2026-11-23 12:50:09.784514

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '26da17b6160c'
down_revision = '627b308fc44b'
branch_labels = None
depends_on = None


def upgrade():
    # Existing users get an empty title and no expertise tags.
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=100), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('expertise', json_type, nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('title', server_default=None)
        batch_op.alter_column('expertise', server_default=None)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('expertise')
        batch_op.drop_column('title')
