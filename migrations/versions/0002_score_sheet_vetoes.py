"""score sheet vetoes

Revision ID: 64649445772a
Revises: 85e4ed8613b7
Create Date: 2026-11-23 12:35:47.429436

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '64649445772a'
down_revision = '85e4ed8613b7'
branch_labels = None
depends_on = None


def upgrade():
    # Existing sheets have no vetoes: fill them with an empty list, then drop the default.
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vetoes', json_type, nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.alter_column('vetoes', server_default=None)


def downgrade():
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.drop_column('vetoes')
