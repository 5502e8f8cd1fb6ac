"""``simulations_extra`` evaluated in UTC, and per simulation instead of over the whole archive.

The view keeps its name, columns, column types, order and rows (``CREATE OR REPLACE VIEW`` refuses
anything else, and keeps the grants readers hold). Two things change underneath:

- ``sim_creation_day_obs`` (and the ``daily_id`` partition) is the date of ``creation_time`` in UTC
  minus 12 hours whatever the session time zone; the reference cast in the session zone, so a
  psql session in Chile numbered simulations differently.
- ``daily_id``, tags, comments and files are correlated subqueries instead of a window and a
  grouped join, so a filter on the view (telescope, dates, UUID, creation dayobs) is applied to
  ``simulations`` first, through its indexes, and only the matching rows are ranked and
  aggregated. Ties in ``creation_time`` (undefined order in the reference) rank by UUID.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _day_obs(alias: str) -> str:
    return f"DATE(({alias}.creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"


SIMULATIONS_EXTRA_UTC = f"""
CREATE OR REPLACE VIEW simulations_extra AS
SELECT
    {_day_obs("s")} AS sim_creation_day_obs,
    (
        SELECT COUNT(*) FROM simulations AS r
        WHERE {_day_obs("r")} = {_day_obs("s")}
            AND r.creation_time <= s.creation_time
            AND (r.creation_time < s.creation_time OR r.visitseq_uuid <= s.visitseq_uuid)
    ) AS daily_id,
    s.visitseq_uuid, s.visitseq_label, s.visitseq_url, s.telescope,
    s.first_day_obs, s.last_day_obs, s.creation_time,
    s.scheduler_version, s.config_url, s.sim_runner_kwargs, s.conda_env_sha256,
    s.parent_visitseq_uuid, s.parent_last_day_obs,
    COALESCE(
        (SELECT JSONB_AGG(DISTINCT t.tag ORDER BY t.tag) FROM tags AS t
         WHERE t.visitseq_uuid = s.visitseq_uuid),
        '[]'::JSONB
    ) AS tags,
    COALESCE(
        (SELECT JSONB_OBJECT_AGG(c.comment_time, c.comment) FROM comments AS c
         WHERE c.visitseq_uuid = s.visitseq_uuid AND c.comment_time IS NOT NULL),
        '{{}}'::JSONB
    ) AS comments,
    COALESCE(
        (SELECT JSONB_OBJECT_AGG(f.file_type, f.file_url) FROM files AS f
         WHERE f.visitseq_uuid = s.visitseq_uuid),
        '{{}}'::JSONB
    ) AS files
FROM simulations AS s
"""


def upgrade() -> None:
    op.execute(SIMULATIONS_EXTRA_UTC)


def downgrade() -> None:
    reference = importlib.import_module("vseq_resources.metadata.migrations.versions.0001_reference_schema")
    op.execute(reference.SIMULATIONS_EXTRA_REFERENCE)
