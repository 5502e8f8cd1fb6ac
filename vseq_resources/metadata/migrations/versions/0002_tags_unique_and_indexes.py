"""Unique tags and the indexes that keep the common queries independent of the archive size.

Additive only: readers of the reference schema see the same tables, columns and rows (apart from
duplicate tag rows, which meant nothing: a sequence either carries a tag or not).

- ``tags (visitseq_uuid, tag)`` becomes unique, so that tagging can be a race-free
  ``INSERT ... ON CONFLICT DO NOTHING``; duplicates the reference's check-then-insert left are
  deleted first (one row of each kept).
- Child tables inherit no index from ``visitseq``, so each is indexed on its own: the pre-night
  query (telescope, covered nights, creation time), the tag filter, lookups by content hash, and
  the ``(sim_creation_day_obs, daily_id)`` ranking through an index on the UTC creation dayobs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_DAY_OBS = "DATE((creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"

_INDEXES = {
    "tags_visitseq_tag_key": "UNIQUE INDEX tags_visitseq_tag_key ON tags (visitseq_uuid, tag)",
    "tags_tag_visitseq_idx": "INDEX tags_tag_visitseq_idx ON tags (tag, visitseq_uuid)",
    "simulations_night_idx": (
        "INDEX simulations_night_idx ON simulations (telescope, first_day_obs, last_day_obs, creation_time)"
    ),
    "simulations_telescope_creation_idx": (
        "INDEX simulations_telescope_creation_idx ON simulations (telescope, creation_time)"
    ),
    "simulations_creation_day_obs_idx": (
        f"INDEX simulations_creation_day_obs_idx ON simulations (({_DAY_OBS}), creation_time, visitseq_uuid)"
    ),
    "visitseq_sha256_idx": "INDEX visitseq_sha256_idx ON visitseq (visitseq_sha256)",
    "simulations_sha256_idx": "INDEX simulations_sha256_idx ON simulations (visitseq_sha256)",
    "completed_sha256_idx": "INDEX completed_sha256_idx ON completed (visitseq_sha256)",
    "mixedvisitseq_sha256_idx": "INDEX mixedvisitseq_sha256_idx ON mixedvisitseq (visitseq_sha256)",
}


def upgrade() -> None:
    op.execute(
        "DELETE FROM tags AS a USING tags AS b "
        "WHERE a.visitseq_uuid = b.visitseq_uuid AND a.tag = b.tag AND a.ctid > b.ctid"
    )
    for ddl in _INDEXES.values():
        op.execute(f"CREATE {ddl}")


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.execute(f"DROP INDEX {name}")
