"""conflict declarations

Revision ID: 627b308fc44b
Revises: 64649445772a
Create Date: 2026-11-23 12:44:45.133136

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '627b308fc44b'
down_revision = '64649445772a'
branch_labels = None
depends_on = None


STATUS_BEFORE = "status IN ('assigned','draft','submitted')"
STATUS_AFTER = "status IN ('assigned','draft','submitted','conflict')"


def upgrade():
    # Existing sheets were never asked about conflicts: they count as confirmed (the expert
    # has been scoring them), so their materials stay open.
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conflict_checked_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('conflict_reason', sa.Text(), nullable=False,
                                      server_default=''))
        batch_op.drop_constraint(op.f('ck_review_assignments_status'), type_='check')
        batch_op.create_check_constraint('status', STATUS_AFTER)
    op.execute("UPDATE review_assignments SET conflict_checked_at = assigned_at")
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.alter_column('conflict_reason', server_default=None)


def downgrade():
    op.execute("DELETE FROM review_assignments WHERE status = 'conflict'")
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_review_assignments_status'), type_='check')
        batch_op.create_check_constraint('status', STATUS_BEFORE)
        batch_op.drop_column('conflict_reason')
        batch_op.drop_column('conflict_checked_at')
