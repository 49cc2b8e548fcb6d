"""plans, self-assessments, client feedback and the final report

Revision ID: c0a1report0003
Revises: c0a1client0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db  # noqa: F401

revision: str = 'c0a1report0003'
down_revision: str | None = 'c0a1client0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('benefits_counselling',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('note_enc', sa.Text(), nullable=True),
    sa.Column('recorded_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_benefits_counselling_client_id'), 'benefits_counselling', ['client_id'], unique=False)
    op.create_index(op.f('ix_benefits_counselling_organisation_id'), 'benefits_counselling', ['organisation_id'], unique=False)
    op.create_table('client_feedback',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('survey', sa.String(length=60), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('comment_enc', sa.Text(), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_client_feedback_client_id'), 'client_feedback', ['client_id'], unique=False)
    op.create_index(op.f('ix_client_feedback_organisation_id'), 'client_feedback', ['organisation_id'], unique=False)
    op.create_table('disclosure_plans',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('criteria_discussed', sa.JSON(), nullable=False),
    sa.Column('revisits_held', sa.JSON(), nullable=False),
    sa.Column('content_enc', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'client_id', name='uq_disclosure_plan_client')
    )
    op.create_index(op.f('ix_disclosure_plans_client_id'), 'disclosure_plans', ['client_id'], unique=False)
    op.create_index(op.f('ix_disclosure_plans_organisation_id'), 'disclosure_plans', ['organisation_id'], unique=False)
    op.create_table('final_report_comments',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('commented_on', sa.Date(), nullable=False),
    sa.Column('comment_enc', sa.Text(), nullable=False),
    sa.Column('recorded_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_final_report_comments_client_id'), 'final_report_comments', ['client_id'], unique=False)
    op.create_index(op.f('ix_final_report_comments_organisation_id'), 'final_report_comments', ['organisation_id'], unique=False)
    op.create_table('final_report_versions',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sections_enc', sa.Text(), nullable=False),
    sa.Column('author_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('saved_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'client_id', 'version', name='uq_final_report_version')
    )
    op.create_index(op.f('ix_final_report_versions_client_id'), 'final_report_versions', ['client_id'], unique=False)
    op.create_index(op.f('ix_final_report_versions_organisation_id'), 'final_report_versions', ['organisation_id'], unique=False)
    op.create_table('final_reports',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('approved_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by', shared.db.UUIDStr(length=36), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.Column('sent_recorded_by', shared.db.UUIDStr(length=36), nullable=True),
    sa.Column('sent_recorded_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'client_id', name='uq_final_report_client')
    )
    op.create_index(op.f('ix_final_reports_client_id'), 'final_reports', ['client_id'], unique=False)
    op.create_index(op.f('ix_final_reports_organisation_id'), 'final_reports', ['organisation_id'], unique=False)
    op.create_table('job_search_plans',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('content_enc', sa.Text(), nullable=False),
    sa.Column('hours_per_week', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'client_id', name='uq_job_search_plan_client')
    )
    op.create_index(op.f('ix_job_search_plans_client_id'), 'job_search_plans', ['client_id'], unique=False)
    op.create_index(op.f('ix_job_search_plans_organisation_id'), 'job_search_plans', ['organisation_id'], unique=False)
    op.create_table('self_assessments',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('work_ability', sa.Integer(), nullable=False),
    sa.Column('self_efficacy_items', sa.JSON(), nullable=False),
    sa.Column('self_efficacy', sa.Integer(), nullable=False),
    sa.Column('note_enc', sa.Text(), nullable=True),
    sa.Column('recorded_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'client_id', 'kind', name='uq_self_assessment_kind')
    )
    op.create_index(op.f('ix_self_assessments_client_id'), 'self_assessments', ['client_id'], unique=False)
    op.create_index(op.f('ix_self_assessments_organisation_id'), 'self_assessments', ['organisation_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_self_assessments_organisation_id'), table_name='self_assessments')
    op.drop_index(op.f('ix_self_assessments_client_id'), table_name='self_assessments')
    op.drop_table('self_assessments')
    op.drop_index(op.f('ix_job_search_plans_organisation_id'), table_name='job_search_plans')
    op.drop_index(op.f('ix_job_search_plans_client_id'), table_name='job_search_plans')
    op.drop_table('job_search_plans')
    op.drop_index(op.f('ix_final_reports_organisation_id'), table_name='final_reports')
    op.drop_index(op.f('ix_final_reports_client_id'), table_name='final_reports')
    op.drop_table('final_reports')
    op.drop_index(op.f('ix_final_report_versions_organisation_id'), table_name='final_report_versions')
    op.drop_index(op.f('ix_final_report_versions_client_id'), table_name='final_report_versions')
    op.drop_table('final_report_versions')
    op.drop_index(op.f('ix_final_report_comments_organisation_id'), table_name='final_report_comments')
    op.drop_index(op.f('ix_final_report_comments_client_id'), table_name='final_report_comments')
    op.drop_table('final_report_comments')
    op.drop_index(op.f('ix_disclosure_plans_organisation_id'), table_name='disclosure_plans')
    op.drop_index(op.f('ix_disclosure_plans_client_id'), table_name='disclosure_plans')
    op.drop_table('disclosure_plans')
    op.drop_index(op.f('ix_client_feedback_organisation_id'), table_name='client_feedback')
    op.drop_index(op.f('ix_client_feedback_client_id'), table_name='client_feedback')
    op.drop_table('client_feedback')
    op.drop_index(op.f('ix_benefits_counselling_organisation_id'), table_name='benefits_counselling')
    op.drop_index(op.f('ix_benefits_counselling_client_id'), table_name='benefits_counselling')
    op.drop_table('benefits_counselling')
