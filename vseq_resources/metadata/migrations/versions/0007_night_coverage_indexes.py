"""Index-driven "sequences covering a night" for any night, any age limit and any archive size.

"Which simulations cover night N" is an interval-containment question (``first_day_obs <= N <=
last_day_obs``). A btree on ``(first_day_obs, last_day_obs)`` answers it by walking every sequence
that started before N: for the newest night that is the whole archive, so the pre-night queries
grew with the archive and their high cost estimates made PostgreSQL JIT-compile them. The
tags filter made it worse: research simulations spanning years cover every recent night but never
carry ``prenight``, so even an exact coverage index returns far more rows than the answer.

- **Span classes.** A sequence whose span ``last_day_obs - first_day_obs`` has bit length ``c``
  (span < 2^c nights) covers N only if it starts within ``2^c - 1`` nights before N. An index on
  ``(telescope, bit length of the span, first_day_obs)`` therefore answers "covers N" with 32
  bounded range scans (one per class), each returning sequences of which at least half cover N:
  work proportional to the answer, whatever the night and the archive size. Added to
  ``visitseq`` and each child (children inherit no index).
- **Tags.** New table ``simulation_tag_spans`` (vseq's own): one row per (simulation, tag) with the
  simulation's telescope, covered nights, span class and creation time, indexed by
  ``(tag, telescope, span_class, first_day_obs)``. "Simulations carrying tag T covering N" is the
  same 32 range scans restricted to T. Filled here from ``tags`` and ``simulations``, then kept in
  step by statement triggers on ``tags``, ``simulations`` and ``visitseq`` (any writer, plain SQL
  included). Queries only take *candidates* from it and re-check every condition on
  ``simulations`` and ``tags``, so a stale row never adds an answer; rows written with triggers
  disabled (``session_replication_role = replica``) need ``SELECT simulation_tag_spans_refill()``.
- **Estimates.** Production's readers look simulations up by ``DATE(creation_time - INTERVAL '12
  hours') = day`` (the session's time zone: it cannot be indexed). Without statistics on that
  expression PostgreSQL guesses 0.5 % of the archive and ranks every day of the archive to hash
  it; extended statistics on the expression give it the day's real size, and it ranks that day's
  rows only.
- Roles that may read ``simulations`` get SELECT on the new table (vseq's API reads it directly);
  the trigger function is SECURITY DEFINER, so writers need no privilege on it.

Additive only: no reference table, column, view or row changes.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _span_class(alias: str = "") -> str:
    """Bit length of the span in nights (0 for one night; 31 for a negative span, which covers
    nothing; NULL without dates). Must stay character-for-character what the queries use."""
    prefix = f"{alias}." if alias else ""
    return f"LENGTH(LTRIM(CAST(CAST({prefix}last_day_obs - {prefix}first_day_obs AS BIT(31)) AS TEXT), '0'))"


SPAN_INDEXES = {
    table: f"CREATE INDEX {table}_night_span_idx ON {table} (telescope, ({_span_class()}), first_day_obs)"
    for table in ("visitseq", "simulations", "completed", "mixedvisitseq")
}

TAG_SPANS = """
CREATE TABLE simulation_tag_spans (
    visitseq_uuid UUID NOT NULL,
    tag TEXT NOT NULL,
    telescope TEXT NOT NULL,
    first_day_obs DATE,
    last_day_obs DATE,
    span_class INTEGER,
    creation_time TIMESTAMPTZ,
    PRIMARY KEY (visitseq_uuid, tag)
)
"""

TAG_SPANS_INDEX = (
    "CREATE INDEX simulation_tag_spans_night_idx ON simulation_tag_spans "
    "(tag, telescope, span_class, first_day_obs) INCLUDE (last_day_obs, creation_time)"
)

_ROWS_OF = f"""
    SELECT DISTINCT t.visitseq_uuid, t.tag, s.telescope, s.first_day_obs, s.last_day_obs,
        {_span_class("s")}, s.creation_time
    FROM tags AS t JOIN simulations AS s ON s.visitseq_uuid = t.visitseq_uuid
"""
_COLUMNS = "(visitseq_uuid, tag, telescope, first_day_obs, last_day_obs, span_class, creation_time)"

REFILL_FUNCTION = f"""
CREATE FUNCTION simulation_tag_spans_refill() RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    written BIGINT;
BEGIN
    DELETE FROM simulation_tag_spans;
    INSERT INTO simulation_tag_spans {_COLUMNS} {_ROWS_OF};
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$
"""

# One function for every trigger; each case reads and writes only the rows of the sequences the
# statement touched. New rows come from the transition tables rather than from re-reading
# ``simulations`` or ``tags``: under SERIALIZABLE, reading the table other writers insert into
# would make two writers of different simulations fail (the predicate locks of 0006's comment).
# Tagging never rewrites the rows of tags already there, so writers conflict here only where they
# already conflict on ``tags`` or on the sequence's own row.
_SPAN_VALUES = f"s.telescope, s.first_day_obs, s.last_day_obs, {_span_class('s')}, s.creation_time"
_DELETE_TOUCHED = (
    "DELETE FROM simulation_tag_spans AS sp USING old_rows AS o WHERE sp.visitseq_uuid = o.visitseq_uuid"
)
SYNC_FUNCTION = f"""
CREATE FUNCTION simulation_tag_spans_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM simulation_tag_spans;
        IF TG_TABLE_NAME <> 'tags' THEN
            INSERT INTO simulation_tag_spans {_COLUMNS} {_ROWS_OF};
        END IF;
    ELSIF TG_TABLE_NAME = 'tags' THEN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            DELETE FROM simulation_tag_spans AS sp USING old_rows AS o
            WHERE sp.visitseq_uuid = o.visitseq_uuid AND sp.tag = o.tag;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO simulation_tag_spans {_COLUMNS}
            SELECT DISTINCT n.visitseq_uuid, n.tag, {_SPAN_VALUES}
            FROM new_rows AS n JOIN simulations AS s ON s.visitseq_uuid = n.visitseq_uuid
            ON CONFLICT (visitseq_uuid, tag) DO NOTHING;
        END IF;
    ELSIF TG_TABLE_NAME = 'simulations' THEN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            {_DELETE_TOUCHED};
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO simulation_tag_spans {_COLUMNS}
            SELECT DISTINCT s.visitseq_uuid, t.tag, {_SPAN_VALUES}
            FROM new_rows AS s JOIN tags AS t ON t.visitseq_uuid = s.visitseq_uuid
            ON CONFLICT (visitseq_uuid, tag) DO NOTHING;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN  -- visitseq, naming the parent: any kind of sequence
        {_DELETE_TOUCHED};
    ELSE  -- UPDATE of visitseq: only the rows that are simulations get rows back
        {_DELETE_TOUCHED};
        INSERT INTO simulation_tag_spans {_COLUMNS}
        {_ROWS_OF} WHERE t.visitseq_uuid IN (SELECT n.visitseq_uuid FROM new_rows AS n)
        ON CONFLICT (visitseq_uuid, tag) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$
"""

PIN_SEARCH_PATH = """
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION simulation_tag_spans_sync() SET search_path = %I, pg_temp', current_schema()
    );
    EXECUTE format(
        'ALTER FUNCTION simulation_tag_spans_refill() SET search_path = %I, pg_temp', current_schema()
    );
END
$$
"""

# Readers of ``simulations`` may read the candidates table too (vseq's API queries it directly).
GRANT_READERS = """
DO $$
DECLARE
    grantee NAME;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants AS g
        WHERE g.table_schema = current_schema() AND g.table_name = 'simulations'
            AND g.privilege_type = 'SELECT' AND g.grantee <> current_user
    LOOP
        IF grantee = 'PUBLIC' THEN
            EXECUTE 'GRANT SELECT ON simulation_tag_spans TO PUBLIC';
        ELSE
            EXECUTE format('GRANT SELECT ON simulation_tag_spans TO %I', grantee);
        END IF;
    END LOOP;
END
$$
"""

_SYNC = "FOR EACH STATEMENT EXECUTE FUNCTION simulation_tag_spans_sync()"
TRIGGERS = {
    "tag_spans_on_tags_insert": f"AFTER INSERT ON tags REFERENCING NEW TABLE AS new_rows {_SYNC}",
    "tag_spans_on_tags_update": (
        f"AFTER UPDATE ON tags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {_SYNC}"
    ),
    "tag_spans_on_tags_delete": f"AFTER DELETE ON tags REFERENCING OLD TABLE AS old_rows {_SYNC}",
    "tag_spans_on_tags_truncate": f"AFTER TRUNCATE ON tags {_SYNC}",
    "tag_spans_on_simulations_insert": (
        f"AFTER INSERT ON simulations REFERENCING NEW TABLE AS new_rows {_SYNC}"
    ),
    "tag_spans_on_simulations_update": (
        f"AFTER UPDATE ON simulations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {_SYNC}"
    ),
    "tag_spans_on_simulations_delete": (
        f"AFTER DELETE ON simulations REFERENCING OLD TABLE AS old_rows {_SYNC}"
    ),
    "tag_spans_on_simulations_truncate": f"AFTER TRUNCATE ON simulations {_SYNC}",
    # A statement naming the parent (``UPDATE visitseq ...``) fires the parent's statement
    # triggers only; its transition tables hold the children's rows too.
    "tag_spans_on_visitseq_update": (
        f"AFTER UPDATE ON visitseq REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {_SYNC}"
    ),
    "tag_spans_on_visitseq_delete": f"AFTER DELETE ON visitseq REFERENCING OLD TABLE AS old_rows {_SYNC}",
}


SESSION_DAY_STATISTICS = (
    "CREATE STATISTICS simulations_session_day_stats "
    "ON (DATE(creation_time - INTERVAL '12 hours')) FROM simulations"
)


def upgrade() -> None:
    for ddl in SPAN_INDEXES.values():
        op.execute(ddl)
    op.execute(TAG_SPANS)
    op.execute(REFILL_FUNCTION)
    op.execute(SYNC_FUNCTION)
    op.execute(PIN_SEARCH_PATH)
    op.execute("SELECT simulation_tag_spans_refill()")
    op.execute(TAG_SPANS_INDEX)
    op.execute(GRANT_READERS)
    for name, definition in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")
    op.execute(SESSION_DAY_STATISTICS)
    for table in ("simulation_tag_spans", "visitseq", "simulations", "completed", "mixedvisitseq"):
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    op.execute("DROP STATISTICS simulations_session_day_stats")
    for name, definition in reversed(TRIGGERS.items()):
        table = definition.split(" ON ")[1].split()[0]
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION simulation_tag_spans_sync()")
    op.execute("DROP FUNCTION simulation_tag_spans_refill()")
    op.execute("DROP TABLE simulation_tag_spans")
    for table in reversed(SPAN_INDEXES):
        op.execute(f"DROP INDEX {table}_night_span_idx")
