"""``daily_id`` ranked once per creation day instead of once per simulation.

After 0003, the view computed ``daily_id`` as a count of the day's earlier simulations, for each
row it returned. A reader asking for "day D #n" (``WHERE sim_creation_day_obs = D AND daily_id =
n``) made it count for every simulation of the day: O(d^2) index entries for d simulations a day.
PostgreSQL cannot push a filter on a non-partition column (UUID, telescope, covered nights) into a
window subquery, so a plain ``ROW_NUMBER() OVER (PARTITION BY day)`` view would rank the whole
archive for every other query; and a window evaluated per row (``LATERAL``) is O(d) per row again.
What the view needs is a relation with one row per creation day that the planner can reach both
ways: restricted by the day a reader asks for (the day's number computed once), or looked up by the
day of each row a reader's other filters selected.

- New table ``simulation_days`` (one row per UTC creation dayobs that has simulations; vseq's own,
  like ``file_checksums``), filled from ``simulations`` here, then by statement triggers on
  ``simulations`` (any writer, plain SQL included). A writer never waits for nor fails on another
  transaction's day: such a day is left to that transaction (see ``RECORD_DAYS_FUNCTION``).
- ``simulations_extra`` left-joins ``simulation_days`` and, per day, a window over that day's
  simulations (``ROW_NUMBER() OVER (ORDER BY creation_time, visitseq_uuid)``, read in that order
  from ``simulations_creation_day_obs_idx``). For ``sim_creation_day_obs = D`` the join derives
  ``simulation_days = D``: one lookup, one window over the day, a hash join with the day's rows.
  For a UUID or the pre-night filters, the planner looks up each selected row's day instead.
  Tags, comments and files stay correlated subqueries, evaluated only for returned rows.
- The numbering never depends on the table or its triggers: a row whose day is missing
  (written with triggers disabled, e.g. ``session_replication_role = replica`` under
  ``pg_restore`` or replication; a day row deleted) falls back to 0003's count, the same
  numbering; a day left without simulations matches nothing. Simulations with no
  ``creation_time`` (the reference gives them dayobs NULL and numbers them 1..k in no defined
  order; 0003 gave them 0) are numbered 1..k by UUID.

Columns, types, order and rows are unchanged (``CREATE OR REPLACE VIEW``; grants are kept).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VERSIONS_PACKAGE = "vseq_resources.metadata.migrations.versions"


def _day_obs(alias: str) -> str:
    """The UTC creation dayobs of ``alias``: exactly the expression of the index on it (0002)."""
    return f"DATE(({alias}.creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"


SIMULATION_DAYS = """
CREATE TABLE simulation_days (
    sim_creation_day_obs DATE PRIMARY KEY
)
"""

FILL_SIMULATION_DAYS = f"""
INSERT INTO simulation_days (sim_creation_day_obs)
SELECT DISTINCT {_day_obs("s")} FROM simulations AS s WHERE s.creation_time IS NOT NULL
"""

# Statement triggers with transition tables: one INSERT per statement however many rows it wrote
# (bulk loads included). SECURITY DEFINER, so that writers need no privilege on the new table; the
# search path is pinned to this schema (then pg_temp) below.
#
# A writer must never wait for, or fail because of, another writer's day: inserting simulations
# never conflicted before this table, and the numbering does not need the day row (a missing day
# falls back to the count). So a day another transaction is inserting and has not committed (the
# unique check would wait for its end: two writers of new days in opposite orders deadlocked), or
# committed after this transaction's snapshot (REPEATABLE READ / SERIALIZABLE: "could not
# serialize access"), is skipped: the other transaction records it when it commits. The lock
# timeout bounds that wait; the block is retried day by day so that the other new days of the
# statement are still recorded. No read of ``simulation_days`` precedes the insert (ON CONFLICT
# checks without a snapshot read): under SERIALIZABLE that read's predicate locks made two
# writers of different new days fail at commit.
RECORD_DAYS_FUNCTION = f"""
CREATE FUNCTION simulation_days_record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET lock_timeout = '10ms' AS $$
DECLARE
    days DATE[];
    day DATE;
BEGIN
    SELECT ARRAY_AGG(n.day ORDER BY n.day) INTO days FROM (
        SELECT DISTINCT {_day_obs("r")} AS day FROM new_rows AS r WHERE r.creation_time IS NOT NULL
    ) AS n;
    IF days IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        INSERT INTO simulation_days (sim_creation_day_obs) SELECT UNNEST(days) ON CONFLICT DO NOTHING;
    EXCEPTION WHEN lock_not_available OR serialization_failure OR deadlock_detected THEN
        FOREACH day IN ARRAY days LOOP
            BEGIN
                INSERT INTO simulation_days (sim_creation_day_obs) VALUES (day) ON CONFLICT DO NOTHING;
            EXCEPTION WHEN lock_not_available OR serialization_failure OR deadlock_detected THEN
                NULL;  -- being recorded by another transaction, or recorded since our snapshot
            END;
        END LOOP;
    END;
    RETURN NULL;
END
$$
"""

# The view reads ``simulation_days`` with its owner's rights (readers need none on it). Adopting a
# schema, the migrating role may only be a member of the role owning the view (or a superuser):
# the view keeps its owner, who must be able to read the new table.
GRANT_VIEW_OWNER = """
DO $$
DECLARE
    owner NAME := (
        SELECT pg_get_userbyid(c.relowner) FROM pg_class AS c
        WHERE c.oid = to_regclass(format('%I.simulations_extra', current_schema()))
    );
BEGIN
    IF owner IS NOT NULL AND owner <> current_user THEN
        EXECUTE format('GRANT SELECT ON %I.simulation_days TO %I', current_schema(), owner);
    END IF;
END
$$
"""

PIN_SEARCH_PATH = """
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION simulation_days_record() SET search_path = %I, pg_temp', current_schema()
    );
END
$$
"""

TRIGGERS = (
    "CREATE TRIGGER simulation_days_on_insert AFTER INSERT ON simulations "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION simulation_days_record()",
    "CREATE TRIGGER simulation_days_on_update AFTER UPDATE ON simulations "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION simulation_days_record()",
)

SIMULATIONS_EXTRA_PER_DAY = f"""
CREATE OR REPLACE VIEW simulations_extra AS
SELECT
    {_day_obs("s")} AS sim_creation_day_obs,
    COALESCE(
        numbered.daily_id,
        CASE WHEN s.creation_time IS NULL
            THEN (
                SELECT COUNT(*) FROM simulations AS r
                WHERE {_day_obs("r")} IS NULL AND r.visitseq_uuid <= s.visitseq_uuid
            )
            ELSE (
                SELECT COUNT(*) FROM simulations AS r
                WHERE {_day_obs("r")} = {_day_obs("s")}
                    AND r.creation_time <= s.creation_time
                    AND (r.creation_time < s.creation_time OR r.visitseq_uuid <= s.visitseq_uuid)
            )
        END
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
LEFT JOIN (
    simulation_days AS d
    CROSS JOIN LATERAL (
        SELECT w.visitseq_uuid,
            ROW_NUMBER() OVER (ORDER BY w.creation_time, w.visitseq_uuid) AS daily_id
        FROM simulations AS w
        WHERE {_day_obs("w")} = d.sim_creation_day_obs
    ) AS ranked
) AS numbered
    ON numbered.sim_creation_day_obs = {_day_obs("s")}
    AND numbered.visitseq_uuid = s.visitseq_uuid
"""


def upgrade() -> None:
    op.execute(SIMULATION_DAYS)
    op.execute(FILL_SIMULATION_DAYS)
    op.execute("ANALYZE simulation_days")  # the planner's row estimates for the join below
    op.execute(GRANT_VIEW_OWNER)
    op.execute(RECORD_DAYS_FUNCTION)
    op.execute(PIN_SEARCH_PATH)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(SIMULATIONS_EXTRA_PER_DAY)


def downgrade() -> None:
    previous = importlib.import_module(f"{VERSIONS_PACKAGE}.0003_utc_simulations_extra")
    op.execute(previous.SIMULATIONS_EXTRA_UTC)
    op.execute("DROP TRIGGER simulation_days_on_update ON simulations")
    op.execute("DROP TRIGGER simulation_days_on_insert ON simulations")
    op.execute("DROP FUNCTION simulation_days_record()")
    op.execute("DROP TABLE simulation_days")
