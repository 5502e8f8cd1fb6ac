"""SQL that returns ``simulations_extra`` rows without going through the whole view.

The reference view ranks and aggregates every simulation of the archive before any filter
applies. Here the filter runs on ``simulations`` through its indexes (telescope, covered nights,
creation time; tags through ``tags (visitseq_uuid, tag)``), and ``daily_id``, tags, comments, files
and stats are computed only for the rows that pass, as correlated subqueries:

- ``daily_id`` counts the simulations of the same creation dayobs created no later (ties broken by
  UUID) through the index on the UTC creation dayobs, the same numbering as the view (0003);
- ``stats`` is what the reference's pre-night query with statistics returns per sequence
  (``value_name`` -> the ``nightly_stats`` row without its key columns), restricted to the night
  asked for; per-night rows win over accumulated ones for the same value.
"""

from __future__ import annotations

from .schema import SIMULATIONS_EXTRA_COLUMNS


def creation_day_obs(alias: str) -> str:
    """The UTC creation dayobs of ``alias`` (the indexed expression, so the index applies)."""
    return f"DATE(({alias}.creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"


_EXTRA_SELECT = f"""
    {creation_day_obs("m")} AS sim_creation_day_obs,
    (
        SELECT COUNT(*) FROM simulations AS r
        WHERE {creation_day_obs("r")} = {creation_day_obs("m")}
            AND r.creation_time <= m.creation_time
            AND (r.creation_time < m.creation_time OR r.visitseq_uuid <= m.visitseq_uuid)
    ) AS daily_id,
    {", ".join(f"m.{name}" for name in SIMULATIONS_EXTRA_COLUMNS[2:-3])},
    COALESCE(
        (SELECT JSONB_AGG(DISTINCT t.tag ORDER BY t.tag) FROM tags AS t
         WHERE t.visitseq_uuid = m.visitseq_uuid),
        '[]'::JSONB
    ) AS tags,
    COALESCE(
        (SELECT JSONB_OBJECT_AGG(c.comment_time, c.comment) FROM comments AS c
         WHERE c.visitseq_uuid = m.visitseq_uuid AND c.comment_time IS NOT NULL),
        '{{}}'::JSONB
    ) AS comments,
    COALESCE(
        (SELECT JSONB_OBJECT_AGG(f.file_type, f.file_url) FROM files AS f
         WHERE f.visitseq_uuid = m.visitseq_uuid),
        '{{}}'::JSONB
    ) AS files"""

_STATS_SELECT = """,
    (
        SELECT JSONB_OBJECT_AGG(
            ns.value_name, TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs'
        )
        FROM (
            SELECT DISTINCT ON (n.value_name) n.*
            FROM nightly_stats AS n
            WHERE n.visitseq_uuid = m.visitseq_uuid AND n.day_obs = :stats_day_obs
            ORDER BY n.value_name, n.accumulated
        ) AS ns
    ) AS stats"""


def simulations_extra_sql(conditions: list[str], *, with_stats: bool = False) -> str:
    """A query of ``simulations_extra`` columns (plus ``stats``) for simulations ``m`` matching all
    ``conditions`` (SQL fragments with bound parameters, never caller text)."""
    where = " AND ".join(conditions) or "TRUE"
    return (
        f"SELECT {_EXTRA_SELECT}{_STATS_SELECT if with_stats else ''}\n"
        f"FROM simulations AS m\nWHERE {where}\n"
        "ORDER BY m.creation_time, m.visitseq_uuid"
    )


def tag_conditions(tags: tuple[str, ...], alias: str = "m") -> tuple[list[str], dict[str, str]]:
    """One ``EXISTS`` per required tag (each a lookup in the unique tags index) and its parameters."""
    conditions = []
    params = {}
    for i, tag in enumerate(dict.fromkeys(tags)):
        conditions.append(
            f"EXISTS (SELECT 1 FROM tags AS t{i} WHERE t{i}.visitseq_uuid = {alias}.visitseq_uuid "
            f"AND t{i}.tag = :tag_{i})"
        )
        params[f"tag_{i}"] = tag
    return conditions, params
