"""An index on ``nightly_stats`` by night, for readers that ask for the statistics of a night.

Additive only: no table, column, view or row changes. The reference's pre-night query with
statistics aggregates ``nightly_stats`` rows of the night (``WHERE day_obs = ...``) in a CTE that it
joins to ``simulations_extra``; without an index the planner scans the whole table, once per
matching simulation (a nested loop over the aggregate), so the query grew with the archive even
after 0003. The primary key (``visitseq_uuid, day_obs, ...``) serves lookups by sequence only.
With ``(day_obs, visitseq_uuid)`` the night's rows come from the index, already grouped.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX nightly_stats_day_obs_idx ON nightly_stats (day_obs, visitseq_uuid)")


def downgrade() -> None:
    op.execute("DROP INDEX nightly_stats_day_obs_idx")
