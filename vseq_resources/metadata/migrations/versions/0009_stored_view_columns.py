"""``simulations_extra`` reads ``daily_id`` and ``tags`` from a table, so production's SQL uses indexes.

Production's readers query the view with filters on two computed columns: ``tags @> '[...]'``
(the pre-night index) and ``daily_id = n`` beside ``DATE(creation_time - INTERVAL '12 hours') =
day`` in the session time zone (the "day #n" lookup). Until 0008 both were computed per row (a
tags subquery; a window per creation day), so PostgreSQL could neither index nor estimate them:
the pre-night query aggregated the tags of every simulation covering the night (~90,000 at 1M for
a past night) and the lookup evaluated the session-zone day of every simulation. Both columns
now come from one table, indexed and with statistics:

- ``simulations_extra_columns``: per sequence, its tags as the view shows them (a sorted JSONB
  array, ``[]`` for none), GIN-indexed (``jsonb_path_ops``: ``tags @> X`` is an index scan whose
  size the planner knows from the column's statistics); per simulation with a creation time, its
  UTC creation dayobs and number (indexed by number: "day #n" reads the ~one simulation per day
  numbered n and evaluates the reader's session-zone day on those only, O(days), so every session
  time zone gets exactly the rows it got before), and copies of its telescope, nights and
  creation time, so that all of production's pre-night filters are answered from this table
  before a ``simulations`` row is read.
- Tags are kept by statement triggers on ``tags``: added and removed tags are merged into the
  stored array by an ``INSERT ... ON CONFLICT DO UPDATE`` / ``UPDATE`` of its newest version, so
  two transactions tagging one sequence at once both land (the second waits for the first's row).
- A day is numbered again, whole, by the writer that changes it (insert, update, delete, through
  ``simulations`` or ``visitseq``), under a transaction-level advisory lock on the day taken
  *without waiting*. A writer that cannot take it (another transaction numbered that day and has
  not committed) or cannot see every committed row (REPEATABLE READ, SERIALIZABLE) records the
  day in ``simulation_unnumbered_days`` instead (no unique key: recording never waits), and the
  view numbers such days by a window, as 0006 did. So writers never wait for or fail on each
  other over a day (``test_migrate.py``), and a stored number is only ever written by a
  transaction that saw every simulation of its day. The next writer of the day that takes the
  lock numbers it again and clears the marks (marks first, then the numbers, in a later snapshot,
  so a mark committed in between is kept).
- The view is three ``UNION ALL`` branches with the same columns: simulations of numbered days
  (stored number, tags and copies, checked against the ``simulations`` row), of marked days (a
  window over each), and without a creation time (numbered 1..k by UUID under dayobs NULL, as
  0006). PostgreSQL pushes a reader's filters into each branch.
- The triggers fire also under ``session_replication_role = replica`` (``ENABLE ALWAYS``). Rows
  written with triggers disabled outright (``ALTER TABLE ... DISABLE TRIGGER``) need ``SELECT
  simulations_extra_refill()``.

Columns, types, order and rows of the view are unchanged (``CREATE OR REPLACE VIEW``; grants are
kept).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

VERSIONS_PACKAGE = "vseq_resources.metadata.migrations.versions"


def _day_obs(alias: str) -> str:
    """The UTC creation dayobs of ``alias``: exactly the expression of the index on it (0002)."""
    return f"DATE(({alias}.creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"


TABLES = (
    "CREATE TABLE simulations_extra_columns ("
    " visitseq_uuid UUID PRIMARY KEY, tags JSONB NOT NULL, sim_creation_day_obs DATE, daily_id BIGINT,"
    " telescope TEXT, first_day_obs DATE, last_day_obs DATE, creation_time TIMESTAMPTZ)",
    # No unique key: a writer marking a day never waits for another transaction marking it.
    "CREATE TABLE simulation_unnumbered_days (sim_creation_day_obs DATE NOT NULL)",
)
_ON = "ON simulations_extra_columns"
INDEXES = (
    f"CREATE INDEX simulations_extra_columns_tags_idx {_ON} USING GIN (tags jsonb_path_ops)",
    f"CREATE INDEX simulations_extra_columns_number_idx {_ON} (daily_id, sim_creation_day_obs)",
    f"CREATE INDEX simulations_extra_columns_day_idx {_ON} (sim_creation_day_obs)",
    f"CREATE INDEX simulations_extra_columns_creation_idx {_ON} (telescope, creation_time)",
    "CREATE INDEX simulation_unnumbered_days_idx ON simulation_unnumbered_days (sim_creation_day_obs)",
)

_TAGS_OF = (
    "COALESCE((SELECT JSONB_AGG(DISTINCT t.tag ORDER BY t.tag) FROM tags AS t "
    "WHERE t.visitseq_uuid = {uuid}), '[]'::JSONB)"
)

_COPIED = "telescope, first_day_obs, last_day_obs, creation_time"
"""The columns of ``simulations`` copied beside the number: the view's filters on them and on
``tags`` are then answered from one table (its own indexes), before any ``simulations`` row is read."""


def _copied(alias: str) -> str:
    return ", ".join(f"{alias}.{column}" for column in _COPIED.split(", "))


_SET_FROM_EXCLUDED = ", ".join(
    f"{c} = EXCLUDED.{c}" for c in ("sim_creation_day_obs", "daily_id", *_COPIED.split(", "))
)
_SET_FROM_NUMBERED = ", ".join(f"{c} = numbered.{c}" for c in _COPIED.split(", "))

REFILL_FUNCTION = f"""
CREATE FUNCTION simulations_extra_refill() RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    written BIGINT;
BEGIN
    DELETE FROM simulation_unnumbered_days;
    DELETE FROM simulations_extra_columns;
    INSERT INTO simulations_extra_columns (visitseq_uuid, tags)
    SELECT t.visitseq_uuid, JSONB_AGG(DISTINCT t.tag ORDER BY t.tag) FROM tags AS t
    WHERE t.visitseq_uuid IS NOT NULL GROUP BY t.visitseq_uuid;
    INSERT INTO simulations_extra_columns AS x
        (visitseq_uuid, tags, sim_creation_day_obs, daily_id, {_COPIED})
    SELECT w.visitseq_uuid, '[]'::JSONB, {_day_obs("w")},
        ROW_NUMBER() OVER (PARTITION BY {_day_obs("w")} ORDER BY w.creation_time, w.visitseq_uuid),
        {_copied("w")}
    FROM simulations AS w WHERE w.creation_time IS NOT NULL
    ON CONFLICT (visitseq_uuid) DO UPDATE
    SET {_SET_FROM_EXCLUDED};
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$
"""

# Merging into the stored array happens in the UPDATE (or ON CONFLICT DO UPDATE) itself, on the
# newest version of the row: two transactions tagging one sequence at once both land.
_MERGED = (
    "(SELECT JSONB_AGG(u.tag ORDER BY u.tag) FROM (SELECT JSONB_ARRAY_ELEMENTS_TEXT(x.tags) "
    "UNION SELECT JSONB_ARRAY_ELEMENTS_TEXT(EXCLUDED.tags)) AS u (tag))"
)
TAGS_FUNCTION = f"""
CREATE FUNCTION simulations_extra_tags_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE simulations_extra_columns SET tags = '[]'::JSONB WHERE tags <> '[]'::JSONB;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE simulations_extra_columns AS x SET tags = x.tags - o.removed
        FROM (SELECT visitseq_uuid, ARRAY_AGG(tag) AS removed FROM old_rows
              WHERE visitseq_uuid IS NOT NULL GROUP BY visitseq_uuid) AS o
        WHERE x.visitseq_uuid = o.visitseq_uuid;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO simulations_extra_columns AS x (visitseq_uuid, tags)
        SELECT n.visitseq_uuid, JSONB_AGG(DISTINCT n.tag ORDER BY n.tag) FROM new_rows AS n
        WHERE n.visitseq_uuid IS NOT NULL GROUP BY n.visitseq_uuid
        ON CONFLICT (visitseq_uuid) DO UPDATE SET tags = {_MERGED}
        WHERE NOT x.tags @> EXCLUDED.tags;
    END IF;
    RETURN NULL;
END
$$
"""

# Numbering a day again: marks first, then the numbers (a later snapshot), so that every mark
# cleared belongs to a transaction whose rows the numbering sees. A row another transaction
# created since (a tagger) is updated in place (ON CONFLICT sees committed rows).
NUMBER_DAYS_FUNCTION = f"""
CREATE FUNCTION simulations_extra_number(days DATE[]) RETURNS VOID
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    day DATE;
    lock_class INTEGER := HASHTEXT(current_schema() || '.simulations_extra_columns');
    sees_all BOOLEAN := current_setting('transaction_isolation') = 'read committed';
BEGIN
    FOR day IN SELECT DISTINCT d FROM UNNEST(days) AS u (d) WHERE d IS NOT NULL ORDER BY d LOOP
        IF sees_all AND pg_try_advisory_xact_lock(lock_class, day - DATE '2000-01-01') THEN
            DELETE FROM simulation_unnumbered_days AS u WHERE u.sim_creation_day_obs = day;
            WITH numbered AS (
                SELECT w.visitseq_uuid, {_copied("w")},
                    ROW_NUMBER() OVER (ORDER BY w.creation_time, w.visitseq_uuid) AS n
                FROM simulations AS w WHERE {_day_obs("w")} = day
            ), gone AS (
                UPDATE simulations_extra_columns AS x SET sim_creation_day_obs = NULL, daily_id = NULL
                WHERE x.sim_creation_day_obs = day
                    AND NOT EXISTS (SELECT 1 FROM numbered WHERE numbered.visitseq_uuid = x.visitseq_uuid)
            ), moved AS (
                UPDATE simulations_extra_columns AS x
                SET sim_creation_day_obs = day, daily_id = numbered.n, {_SET_FROM_NUMBERED}
                FROM numbered WHERE x.visitseq_uuid = numbered.visitseq_uuid
                    AND (x.sim_creation_day_obs, x.daily_id, {_copied("x")})
                        IS DISTINCT FROM (day, numbered.n, {_copied("numbered")})
            )
            INSERT INTO simulations_extra_columns AS x
                (visitseq_uuid, tags, sim_creation_day_obs, daily_id, {_COPIED})
            SELECT numbered.visitseq_uuid, {_TAGS_OF.format(uuid="numbered.visitseq_uuid")}, day, numbered.n,
                {_copied("numbered")}
            FROM numbered
            WHERE NOT EXISTS (
                SELECT 1 FROM simulations_extra_columns AS e WHERE e.visitseq_uuid = numbered.visitseq_uuid
            )
            ON CONFLICT (visitseq_uuid) DO UPDATE SET {_SET_FROM_EXCLUDED};
        ELSE
            INSERT INTO simulation_unnumbered_days (sim_creation_day_obs) VALUES (day);
        END IF;
    END LOOP;
END
$$
"""

_DAYS_OF = "SELECT ARRAY_AGG(DISTINCT {day}) FROM {rows} AS r"
NUMBERS_FUNCTION = f"""
CREATE FUNCTION simulations_extra_numbers_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    days DATE[] := '{{}}';
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE simulations_extra_columns SET sim_creation_day_obs = NULL, daily_id = NULL
        WHERE daily_id IS NOT NULL;
        DELETE FROM simulation_unnumbered_days;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        days := days || ({_DAYS_OF.format(day=_day_obs("r"), rows="old_rows")});
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        days := days || ({_DAYS_OF.format(day=_day_obs("r"), rows="new_rows")});
    END IF;
    PERFORM simulations_extra_number(days);
    RETURN NULL;
END
$$
"""

FUNCTIONS = (
    "simulations_extra_refill()",
    "simulations_extra_tags_sync()",
    "simulations_extra_number(DATE[])",
    "simulations_extra_numbers_sync()",
)

PIN_SEARCH_PATH = """
DO $$
DECLARE
    f TEXT;
BEGIN
    FOREACH f IN ARRAY ARRAY[{functions}] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
    END LOOP;
END
$$
""".format(functions=", ".join(f"'{f}'" for f in FUNCTIONS))

NEW_TABLES = ("simulations_extra_columns", "simulation_unnumbered_days")

# The view reads the new tables with its owner's rights (readers need none on them); see 0006.
GRANT_VIEW_OWNER = """
DO $$
DECLARE
    owner NAME := (
        SELECT pg_get_userbyid(c.relowner) FROM pg_class AS c
        WHERE c.oid = to_regclass(format('%I.simulations_extra', current_schema()))
    );
    t TEXT;
BEGIN
    IF owner IS NOT NULL AND owner <> current_user THEN
        FOREACH t IN ARRAY ARRAY['simulations_extra_columns', 'simulation_unnumbered_days'] LOOP
            EXECUTE format('GRANT SELECT ON %I.%I TO %I', current_schema(), t, owner);
        END LOOP;
    END IF;
END
$$
"""

_TAGS_SYNC = "FOR EACH STATEMENT EXECUTE FUNCTION simulations_extra_tags_sync()"
_NUMBERS_SYNC = "FOR EACH STATEMENT EXECUTE FUNCTION simulations_extra_numbers_sync()"
TRIGGERS = {
    "extra_tags_on_tags_insert": f"AFTER INSERT ON tags REFERENCING NEW TABLE AS new_rows {_TAGS_SYNC}",
    "extra_tags_on_tags_update": (
        f"AFTER UPDATE ON tags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {_TAGS_SYNC}"
    ),
    "extra_tags_on_tags_delete": f"AFTER DELETE ON tags REFERENCING OLD TABLE AS old_rows {_TAGS_SYNC}",
    "extra_tags_on_tags_truncate": f"AFTER TRUNCATE ON tags {_TAGS_SYNC}",
    "extra_numbers_on_simulations_insert": (
        f"AFTER INSERT ON simulations REFERENCING NEW TABLE AS new_rows {_NUMBERS_SYNC}"
    ),
    "extra_numbers_on_simulations_update": (
        f"AFTER UPDATE ON simulations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {_NUMBERS_SYNC}"
    ),
    "extra_numbers_on_simulations_delete": (
        f"AFTER DELETE ON simulations REFERENCING OLD TABLE AS old_rows {_NUMBERS_SYNC}"
    ),
    "extra_numbers_on_simulations_truncate": f"AFTER TRUNCATE ON simulations {_NUMBERS_SYNC}",
    # A statement naming the parent fires the parent's triggers only; its transition tables hold
    # every kind of sequence (a day of a completed sequence is numbered again for nothing).
    "extra_numbers_on_visitseq_update": (
        f"AFTER UPDATE ON visitseq REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {_NUMBERS_SYNC}"
    ),
    "extra_numbers_on_visitseq_delete": (
        f"AFTER DELETE ON visitseq REFERENCING OLD TABLE AS old_rows {_NUMBERS_SYNC}"
    ),
}

_COLUMNS = """
    s.visitseq_uuid, s.visitseq_label, s.visitseq_url, {c}.telescope,
    {c}.first_day_obs, {c}.last_day_obs, {c}.creation_time,
    s.scheduler_version, s.config_url, s.sim_runner_kwargs, s.conda_env_sha256,
    s.parent_visitseq_uuid, s.parent_last_day_obs,
    {tags} AS tags,
    COALESCE(
        (SELECT JSONB_OBJECT_AGG(c.comment_time, c.comment) FROM comments AS c
         WHERE c.visitseq_uuid = s.visitseq_uuid AND c.comment_time IS NOT NULL),
        '{{}}'::JSONB
    ) AS comments,
    COALESCE(
        (SELECT JSONB_OBJECT_AGG(f.file_type, f.file_url) FROM files AS f
         WHERE f.visitseq_uuid = s.visitseq_uuid),
        '{{}}'::JSONB
    ) AS files"""
_STORED = _COLUMNS.format(c="x", tags="x.tags")
_COMPUTED = _COLUMNS.format(c="s", tags=_TAGS_OF.format(uuid="s.visitseq_uuid"))

SIMULATIONS_EXTRA_STORED = f"""
CREATE OR REPLACE VIEW simulations_extra AS
SELECT x.sim_creation_day_obs, x.daily_id, {_STORED}
FROM simulations AS s
JOIN simulations_extra_columns AS x
    ON x.visitseq_uuid = s.visitseq_uuid AND x.sim_creation_day_obs = {_day_obs("s")}
    AND x.creation_time = s.creation_time AND x.telescope = s.telescope
    AND x.first_day_obs IS NOT DISTINCT FROM s.first_day_obs
    AND x.last_day_obs IS NOT DISTINCT FROM s.last_day_obs
WHERE NOT EXISTS (
    SELECT 1 FROM simulation_unnumbered_days AS u WHERE u.sim_creation_day_obs = x.sim_creation_day_obs
)
UNION ALL
SELECT d.sim_creation_day_obs, r.daily_id, {_COMPUTED}
FROM (SELECT DISTINCT u.sim_creation_day_obs FROM simulation_unnumbered_days AS u) AS d
CROSS JOIN LATERAL (
    SELECT w.visitseq_uuid, ROW_NUMBER() OVER (ORDER BY w.creation_time, w.visitseq_uuid) AS daily_id
    FROM simulations AS w WHERE {_day_obs("w")} = d.sim_creation_day_obs
) AS r
JOIN simulations AS s ON s.visitseq_uuid = r.visitseq_uuid
UNION ALL
SELECT CAST(NULL AS DATE), r.daily_id, {_COMPUTED}
FROM (
    SELECT w.visitseq_uuid, ROW_NUMBER() OVER (ORDER BY w.visitseq_uuid) AS daily_id
    FROM simulations AS w WHERE {_day_obs("w")} IS NULL
) AS r
JOIN simulations AS s ON s.visitseq_uuid = r.visitseq_uuid
"""


def _table_of(trigger_definition: str) -> str:
    return trigger_definition.split(" ON ")[1].split()[0]


def upgrade() -> None:
    for ddl in TABLES:
        op.execute(ddl)
    for ddl in (REFILL_FUNCTION, TAGS_FUNCTION, NUMBER_DAYS_FUNCTION, NUMBERS_FUNCTION, PIN_SEARCH_PATH):
        op.execute(ddl)
    op.execute("SELECT simulations_extra_refill()")
    for ddl in INDEXES:
        op.execute(ddl)
    op.execute(GRANT_VIEW_OWNER)
    for name, definition in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")
        # Also under session_replication_role = replica (logical replication, restores of data
        # only): the view depends on these tables, so they must follow every such write too.
        op.execute(f"ALTER TABLE {_table_of(definition)} ENABLE ALWAYS TRIGGER {name}")
    op.execute(SIMULATIONS_EXTRA_STORED)
    for table in NEW_TABLES:
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    previous = importlib.import_module(f"{VERSIONS_PACKAGE}.0006_daily_id_per_day_window")
    op.execute(previous.SIMULATIONS_EXTRA_PER_DAY)
    for name, definition in reversed(TRIGGERS.items()):
        op.execute(f"DROP TRIGGER {name} ON {_table_of(definition)}")
    for function in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {function}")
    for table in reversed(NEW_TABLES):
        op.execute(f"DROP TABLE {table}")
