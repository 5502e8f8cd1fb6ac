"""Cumulative statistics move out of ``nightly_stats`` into ``accumulated_stats``.

The reference's statistics readers (``sims_on_night_with_stats``, behind
``fetch_sim_stats_for_night``, the pre-night index with statistics and ``make-prenight-index``)
aggregate a night's ``nightly_stats`` rows per ``value_name`` without looking at ``accumulated``,
and its ``query_nightly_stats`` returns every row: a cumulative row beside the nightly one made them
serve the statistics of all nights so far as that night's. vseq wrote such rows (the reference never
does); they move, unchanged, to a table of vseq's own that no reference query reads, so nothing is
lost and ``nightly_stats`` holds per-night rows only, as the reference writes it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VALUES = "count, mean, std, min, p05, q1, median, q3, p95, max"


def upgrade() -> None:
    op.execute(
        "CREATE TABLE accumulated_stats ("
        " visitseq_uuid UUID NOT NULL,"
        " day_obs DATE NOT NULL,"
        " value_name TEXT NOT NULL,"
        " count INTEGER,"
        " mean DOUBLE PRECISION, std DOUBLE PRECISION, min DOUBLE PRECISION,"
        " p05 DOUBLE PRECISION, q1 DOUBLE PRECISION, median DOUBLE PRECISION,"
        " q3 DOUBLE PRECISION, p95 DOUBLE PRECISION, max DOUBLE PRECISION,"
        " PRIMARY KEY (visitseq_uuid, day_obs, value_name))"
    )
    op.execute(
        f"INSERT INTO accumulated_stats (visitseq_uuid, day_obs, value_name, {VALUES}) "
        f"SELECT visitseq_uuid, day_obs, value_name, {VALUES} FROM nightly_stats WHERE accumulated"
    )
    op.execute("DELETE FROM nightly_stats WHERE accumulated")


def downgrade() -> None:
    op.execute(
        f"INSERT INTO nightly_stats (visitseq_uuid, day_obs, value_name, accumulated, {VALUES}) "
        f"SELECT visitseq_uuid, day_obs, value_name, TRUE, {VALUES} FROM accumulated_stats "
        "ON CONFLICT DO NOTHING"
    )
    op.execute("DROP TABLE accumulated_stats")
