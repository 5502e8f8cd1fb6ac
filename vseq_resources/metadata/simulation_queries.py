"""SQL that returns ``simulations_extra`` rows without going through the whole view.

The reference view ranks and aggregates every simulation of the archive before any filter
applies. Here simulations are selected first, and ``daily_id``, tags, comments, files and stats are
computed only for the rows selected.

Two forms of the selection:

- **indexed** (schemas at revision 0007 or later): the candidates come from one index-driven
  *access path* chosen per call (:data:`PATHS`): the simulations carrying one of the wanted tags
  that cover the night (``simulation_tag_spans``), the simulations covering the night (span-class
  index on ``simulations``), or those created since the age limit (``(telescope,
  creation_time)``). Each path reads index entries in proportion to what it returns, whatever
  the night and the archive size; :func:`smallest_path_sql` counts the index entries each would
  read (no further than the smallest so far) and the cheapest is used. Candidates are then looked
  up by primary key and every condition re-checked on ``simulations`` and ``tags``.
  ``daily_id`` is a window over each creation day of the selected rows (the day's entries of
  ``simulations_creation_day_obs_idx``).
- **plain** (schemas created by the reference and not migrated): one filtered scan of
  ``simulations`` through the indexes it has, and ``daily_id`` counted per row.

The SQL is text, not Core: its shape (``LATERAL`` lookups by key, materialized candidates,
correlated subqueries evaluated only for returned rows) is what keeps the plans index-driven and
their estimated costs low, so that PostgreSQL's JIT (on by default above a cost threshold) never
kicks in; a Core rewrite must not change it.

``stats`` is what the reference's pre-night query with statistics returns per sequence
(``value_name`` -> the ``nightly_stats`` row without its key columns), restricted to the night
asked for; per-night rows win over accumulated ones for the same value.
"""

from __future__ import annotations

from .schema import NIGHT_SPAN_CLASS_SQL, SIMULATIONS_EXTRA_COLUMNS

MAX_SPAN_CLASS = 31
"""Span classes are 0..31 (bit lengths of a 31-bit span; 31 also holds negative spans)."""
UNBOUNDED_CLASS = 20
"""From this class on the earliest possible start is beyond any date arithmetic: no lower bound."""
PATH_SIZE_CAP = 5000
"""Candidates the first access path is counted up to (bounds the choosing work)."""


def creation_day_obs(alias: str) -> str:
    """The UTC creation dayobs of ``alias`` (the indexed expression, so the index applies)."""
    return f"DATE(({alias}.creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"


def span_class(alias: str) -> str:
    """The span class of ``alias`` exactly as indexed (revision 0007)."""
    return NIGHT_SPAN_CLASS_SQL.replace("last_day_obs", f"{alias}.last_day_obs").replace(
        "first_day_obs", f"{alias}.first_day_obs"
    )


_EARLIEST_START = (
    f"CASE WHEN k.c < {UNBOUNDED_CLASS} THEN CAST(:night AS DATE) - ((1 << k.c) - 1) "
    "ELSE DATE '-infinity' END"
)
"""The earliest first night of a sequence of span class ``k.c`` that covers ``:night``."""


def _by_class(source: str, alias: str, class_sql: str, conditions: list[str]) -> str:
    where = " AND ".join(
        [
            f"{class_sql} = k.c",
            f"{alias}.first_day_obs BETWEEN {_EARLIEST_START} AND :night",
            f"{alias}.last_day_obs >= :night",
            *conditions,
        ]
    )
    # OFFSET 0 keeps the subquery a subquery: one index range scan per class (its bounds depend
    # on the class), instead of the planner flattening it into a join that scans every class's
    # entries up to the night at once.
    return (
        f"SELECT {alias}.visitseq_uuid FROM GENERATE_SERIES(0, {MAX_SPAN_CLASS}) AS k (c) "
        f"CROSS JOIN LATERAL (SELECT {alias}.visitseq_uuid FROM {source} AS {alias} WHERE {where} OFFSET 0) "
        f"AS {alias}"
    )


def tag_path(tag_param: str, with_cutoff: bool) -> str:
    """Simulations of ``:telescope`` carrying the tag ``:<tag_param>`` that cover ``:night``."""
    conditions = [f"sp.tag = :{tag_param}", "sp.telescope = :telescope"]
    if with_cutoff:
        conditions.append("sp.creation_time >= :cutoff")
    return _by_class("simulation_tag_spans", "sp", "sp.span_class", conditions)


def night_path(source: str, with_cutoff: bool) -> str:
    """Sequences of ``source`` (a visit sequence table) of ``:telescope`` that cover ``:night``."""
    conditions = ["w.telescope = :telescope"]
    if with_cutoff:
        conditions.append("w.creation_time >= :cutoff")
    return _by_class(source, "w", span_class("w"), conditions)


AGE_PATH = (
    "SELECT w.visitseq_uuid FROM simulations AS w WHERE w.telescope = :telescope "
    "AND w.creation_time >= :cutoff AND w.first_day_obs <= :night AND w.last_day_obs >= :night"
)
"""Simulations of ``:telescope`` created since ``:cutoff`` covering ``:night``."""
AGE_PATH_WORK = "SELECT 1 FROM simulations AS w WHERE w.telescope = :telescope AND w.creation_time >= :cutoff"
"""The index entries :data:`AGE_PATH` reads: every simulation of the telescope since the cutoff."""


def smallest_path_sql(paths: list[str]) -> str:
    """One value: the index in ``paths`` of the one returning the fewest rows.

    ``paths`` are the *work* of each access path: SQL returning one row per index entry the path
    reads (without the filters it applies to them), so that the count measures its cost. They are
    counted in order, each only up to one more than the smallest count so far (the first up to
    :data:`PATH_SIZE_CAP`), so choosing costs about as much as the chosen path, whatever the
    others would read. Ties go to the earlier path.
    """
    counts = []
    for i, path in enumerate(paths):
        earlier = " UNION ALL ".join(f"SELECT n FROM s{j}" for j in range(i))
        limit = f"(SELECT MIN(n) + 1 FROM ({earlier}) AS e)" if i else str(PATH_SIZE_CAP)
        counts.append(f"s{i} AS (SELECT {i} AS i, COUNT(*) AS n FROM ({path} LIMIT {limit}) AS p)")
    every = " UNION ALL ".join(f"SELECT i, n FROM s{i}" for i in range(len(paths)))
    return f"WITH {', '.join(counts)} SELECT i FROM ({every}) AS a ORDER BY n, i LIMIT 1"


_EXTRA_COLUMNS = f"""
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

_COUNTED_DAILY_ID = f"""(
        SELECT COUNT(*) FROM simulations AS r
        WHERE {creation_day_obs("r")} = {creation_day_obs("m")}
            AND r.creation_time <= m.creation_time
            AND (r.creation_time < m.creation_time OR r.visitseq_uuid <= m.visitseq_uuid)
    )"""

_EXTRA_SELECT = f"""
    {creation_day_obs("m")} AS sim_creation_day_obs,
    {_COUNTED_DAILY_ID} AS daily_id,{_EXTRA_COLUMNS}"""

_STATS_SELECT = """,
    CASE WHEN m.first_day_obs <= :stats_day_obs AND m.last_day_obs >= :stats_day_obs THEN (
        SELECT JSONB_OBJECT_AGG(
            ns.value_name, TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs'
        )
        FROM (
            SELECT DISTINCT ON (n.value_name) n.*
            FROM nightly_stats AS n
            WHERE n.visitseq_uuid = m.visitseq_uuid AND n.day_obs = :stats_day_obs
            ORDER BY n.value_name, n.accumulated
        ) AS ns
    ) END AS stats"""
"""The night's statistics of ``m``; None for a night it does not cover (the pre-night queries
select covering simulations only, so there the condition always holds)."""


def simulations_extra_sql(conditions: list[str], *, with_stats: bool = False) -> str:
    """The plain form: ``simulations_extra`` columns (plus ``stats``) for simulations ``m``
    matching all ``conditions`` (SQL fragments with bound parameters, never caller text)."""
    where = " AND ".join(conditions) or "TRUE"
    return (
        f"SELECT {_EXTRA_SELECT}{_STATS_SELECT if with_stats else ''}\n"
        f"FROM simulations AS m\nWHERE {where}\n"
        "ORDER BY m.creation_time, m.visitseq_uuid"
    )


def indexed_simulations_extra_sql(candidates: str, conditions: list[str], *, with_stats: bool = False) -> str:
    """The indexed form: the simulations among ``candidates`` (SQL returning ``visitseq_uuid``,
    each at most once) matching all ``conditions`` on ``m``, as ``simulations_extra`` rows.

    Each candidate is looked up by primary key (``LATERAL``: never a scan of ``simulations``) and
    its tags, comments, files and stats are aggregated right there, in the CTE whose row estimate
    is the candidates': the planner charges those subqueries per estimated row, and the join with
    the day ranking below is estimated far above the rows it returns (no statistics on either
    side), which once made the estimated cost pass ``jit_above_cost``. ``daily_id`` is ranked once
    per creation day of the selected rows; a simulation without creation time is numbered by UUID
    among those, as the view does.
    """
    where = " AND ".join(["m.visitseq_uuid = c.visitseq_uuid", *conditions])
    stats = _STATS_SELECT if with_stats else ""
    columns = ", ".join(
        f"s.{name}" for name in (*SIMULATIONS_EXTRA_COLUMNS[2:], *(["stats"] if with_stats else []))
    )
    return f"""
WITH candidates AS MATERIALIZED ({candidates}),
selected AS MATERIALIZED (
    SELECT {_EXTRA_COLUMNS}{stats},
        CASE WHEN m.creation_time IS NULL THEN (
            SELECT COUNT(*) FROM simulations AS r
            WHERE {creation_day_obs("r")} IS NULL AND r.visitseq_uuid <= m.visitseq_uuid
        ) END AS undated_daily_id
    FROM candidates AS c CROSS JOIN LATERAL (SELECT * FROM simulations AS m WHERE {where}) AS m
),
days AS (
    SELECT DISTINCT {creation_day_obs("s")} AS day FROM selected AS s WHERE s.creation_time IS NOT NULL
),
ranked AS (
    SELECT r.visitseq_uuid, r.daily_id FROM days AS d CROSS JOIN LATERAL (
        SELECT w.visitseq_uuid, ROW_NUMBER() OVER (ORDER BY w.creation_time, w.visitseq_uuid) AS daily_id
        FROM simulations AS w WHERE {creation_day_obs("w")} = d.day
    ) AS r
)
SELECT {creation_day_obs("s")} AS sim_creation_day_obs,
    COALESCE(ranked.daily_id, s.undated_daily_id) AS daily_id, {columns}
FROM selected AS s LEFT JOIN ranked ON ranked.visitseq_uuid = s.visitseq_uuid
ORDER BY s.creation_time, s.visitseq_uuid"""


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
