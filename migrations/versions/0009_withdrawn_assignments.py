"""withdrawn assignments: the city takes an unsubmitted sheet back (reassignment), on record

Revision ID: 9e575f6486e2
Revises: 69e19578cf53
Create Date: 2026-11-30 21:54:31.142583

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9e575f6486e2'
down_revision = '69e19578cf53'
branch_labels = None
depends_on = None


STATUS_BEFORE = "status IN ('assigned','draft','submitted','conflict')"
STATUS_AFTER = "status IN ('assigned','draft','submitted','conflict','withdrawn')"


def upgrade():
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawal_reason', sa.Text(), nullable=False,
                                      server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_review_assignments_withdrawn_by_id_users'),
                                    'users', ['withdrawn_by_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_review_assignments_status'), type_='check')
        batch_op.create_check_constraint('status', STATUS_AFTER)
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.alter_column('withdrawal_reason', server_default=None)


def downgrade():
    op.execute("DELETE FROM review_assignments WHERE status = 'withdrawn'")
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_review_assignments_status'), type_='check')
        batch_op.create_check_constraint('status', STATUS_BEFORE)
        batch_op.drop_constraint(batch_op.f('fk_review_assignments_withdrawn_by_id_users'),
                                 type_='foreignkey')
        batch_op.drop_column('withdrawal_reason')
        batch_op.drop_column('withdrawn_by_id')
        batch_op.drop_column('withdrawn_at')
