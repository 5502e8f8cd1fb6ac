"""Migrations: from nothing, adopting a reference-created schema, and what they leave behind."""

from __future__ import annotations

import importlib
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from vseq_resources.errors import ConfigurationError
from vseq_resources.metadata import current_revision, head_revision, migrate, schema
from vseq_resources.metadata.migrate import alembic_config
from vseq_tests import services

from .support import create_reference_schema, digest

STORED_VIEW_COLUMNS = importlib.import_module(
    "vseq_resources.metadata.migrations.versions.0009_stored_view_columns"
)


def _catalog(engine: sa.Engine, name: str) -> dict[str, object]:
    """What readers can see of a schema: columns, indexes, constraints, view definitions."""
    with engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{name}"')
        columns = conn.execute(
            sa.text(
                "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = :s ORDER BY 1, 2"
            ),
            {"s": name},
        ).all()
        indexes = conn.execute(
            sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :s ORDER BY 1"),
            {"s": name},
        ).all()
        constraints = conn.execute(
            sa.text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) "
                "FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace "
                "WHERE n.nspname = :s ORDER BY 1, 2"
            ),
            {"s": name},
        ).all()
        views = conn.execute(
            sa.text("SELECT viewname, definition FROM pg_views WHERE schemaname = :s ORDER BY 1"), {"s": name}
        ).all()
        inherits = conn.execute(
            sa.text(
                "SELECT c.relname, p.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
                "JOIN pg_class AS p ON p.oid = i.inhparent JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s ORDER BY 1"
            ),
            {"s": name},
        ).all()
    return {
        "columns": columns,
        "indexes": [(n, d.replace(f'"{name}".', "").replace(f"{name}.", "")) for n, d in indexes],
        "constraints": constraints,
        "views": views,
        "inherits": inherits,
    }


def test_migrate_from_nothing(engine: sa.Engine, db_schema: str) -> None:
    assert current_revision(engine, db_schema) is None
    assert migrate(engine, db_schema) == head_revision() == current_revision(engine, db_schema)
    with engine.connect() as conn:
        version_table = conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": f"{db_schema}.alembic_version"})
        assert version_table.scalar() is not None
        assert conn.execute(sa.text("SELECT to_regclass('public.alembic_version')")).scalar() is None
    assert migrate(engine, db_schema) == head_revision()  # again: nothing to do


def test_fresh_and_adopted_schemas_are_identical(
    engine: sa.Engine, db_schema: str, reference_schema: str
) -> None:
    migrate(engine, db_schema)
    migrate(engine, reference_schema)
    fresh, adopted = _catalog(engine, db_schema), _catalog(engine, reference_schema)
    for part in fresh:
        assert fresh[part] == adopted[part], part


def test_schema_module_describes_the_database(engine: sa.Engine, db_schema: str) -> None:
    migrate(engine, db_schema)
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names(schema=db_schema))
    assert tables == set(schema.metadata.tables) | {"alembic_version"}
    assert set(inspector.get_view_names(schema=db_schema)) == set(schema.view_metadata.tables)
    for table in [*schema.metadata.tables.values(), *schema.view_metadata.tables.values()]:
        columns = inspector.get_columns(table.name, schema=db_schema)
        assert [c["name"] for c in columns] == list(table.c.keys()), table.name
        for found in columns:
            expected = table.c[found["name"]]
            assert type(found["type"]).__name__ == type(expected.type).__name__, (table.name, found["name"])
            if table.name in schema.metadata.tables:
                assert found["nullable"] == expected.nullable, (table.name, found["name"])
        if table.name in schema.metadata.tables:
            indexes = {i["name"] for i in inspector.get_indexes(table.name, schema=db_schema)}
            assert indexes == {i.name for i in table.indexes}, table.name


def _reference_rows(engine: sa.Engine, name: str) -> dict[str, list]:
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET search_path TO \"{name}\"; SET timezone TO 'UTC'")
        return {
            "simulations_extra": conn.exec_driver_sql(
                "SELECT * FROM simulations_extra ORDER BY visitseq_uuid"
            ).all(),
            "visitseq": conn.exec_driver_sql("SELECT * FROM visitseq ORDER BY visitseq_uuid").all(),
            "tags": conn.exec_driver_sql("SELECT DISTINCT * FROM tags ORDER BY 1, 2").all(),
            "files": conn.exec_driver_sql("SELECT * FROM files ORDER BY 1, 2").all(),
            "comments": conn.exec_driver_sql("SELECT * FROM comments ORDER BY 1, 2").all(),
            "nightly_stats": conn.exec_driver_sql("SELECT * FROM nightly_stats ORDER BY 1, 2, 3").all(),
            "simulation_packages": conn.exec_driver_sql(
                "SELECT * FROM simulation_packages ORDER BY 1, 3"
            ).all(),
        }


def test_adopting_a_reference_schema(engine: sa.Engine, reference_schema: str) -> None:
    """Rows written the reference's way survive; duplicate tags go; the views answer the same."""
    sims = [uuid.uuid4() for _ in range(3)]
    with engine.begin() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{reference_schema}"')
        for i, sim in enumerate(sims):
            conn.execute(
                sa.text(
                    "INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, "
                    "first_day_obs, last_day_obs, creation_time, conda_env_sha256) "
                    "VALUES (:u, :h, :l, 'simonyi', '2025-12-08', '2025-12-09', :t, :env)"
                ),
                {
                    "u": str(sim),
                    "h": digest(str(i)),
                    "l": f"sim {i}",
                    "t": f"2025-12-08T2{i}:00:00Z",
                    "env": b"e",
                },
            )
        completed = str(uuid.uuid4())
        conn.execute(
            sa.text(
                "INSERT INTO completed (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, query) "
                "VALUES (:u, :h, 'done', 'simonyi', 'SELECT 1')"
            ),
            {"u": completed, "h": digest("c")},
        )
        for tag in ("ideal", "ideal", "nominal", "ideal"):
            conn.execute(sa.text("INSERT INTO tags VALUES (:u, :t)"), {"u": str(sims[0]), "t": tag})
        conn.execute(sa.text("INSERT INTO tags VALUES (:u, 'ideal')"), {"u": str(sims[1])})
        conn.execute(
            sa.text("INSERT INTO comments (visitseq_uuid, comment) VALUES (:u, 'hi')"), {"u": str(sims[0])}
        )
        conn.execute(
            sa.text("INSERT INTO files VALUES (:u, 'rewards', :h, 'file:///r.h5')"),
            {"u": str(sims[2]), "h": b"r"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO nightly_stats (visitseq_uuid, day_obs, value_name, accumulated, count) "
                "VALUES (:u, '2025-12-08', 'airmass', false, 3)"
            ),
            {"u": str(sims[0])},
        )
        conn.exec_driver_sql(
            'INSERT INTO conda_env VALUES (\'\\x65\', \'[{"name": "numpy", "version": "2.0"}]\')'
        )
    before = _reference_rows(engine, reference_schema)

    assert current_revision(engine, reference_schema) is None
    assert migrate(engine, reference_schema) == head_revision()

    after = _reference_rows(engine, reference_schema)
    assert after == before
    with engine.connect() as conn:
        tag_rows = conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{reference_schema}".tags').scalar()
    assert tag_rows == 3  # (sim0, ideal), (sim0, nominal), (sim1, ideal)
    by_creation = sorted(after["simulations_extra"], key=lambda r: r.creation_time)
    assert [row.daily_id for row in by_creation] == [1, 2, 3]


def test_adoption_is_recorded_as_stamp_not_rerun(engine: sa.Engine, reference_schema: str) -> None:
    """Stamping at 0001 means the reference tables are not created again (which would fail)."""
    with engine.begin() as conn:
        command.stamp(alembic_config(conn, reference_schema), "0001")
    assert current_revision(engine, reference_schema) == "0001"
    assert migrate(engine, reference_schema) == head_revision()


def test_partial_schema_is_refused(engine: sa.Engine, db_schema: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{db_schema}"; CREATE TABLE "{db_schema}".visitseq (x int)')
    with pytest.raises(ConfigurationError, match="not a visit sequence archive"):
        migrate(engine, db_schema)
    assert current_revision(engine, db_schema) is None


def test_downgrade_and_upgrade_again(engine: sa.Engine, pg_url: str, db_schema: str) -> None:
    migrate(engine, db_schema)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn, db_schema), "0001")
    reference_name = f"{db_schema}_ref"
    create_reference_schema(pg_url, reference_name)
    try:
        assert _catalog(engine, db_schema)["views"] == _catalog(engine, reference_name)["views"]
        downgraded = [i for i in _catalog(engine, db_schema)["indexes"] if not i[0].startswith("alembic")]
        assert downgraded == _catalog(engine, reference_name)["indexes"]
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{reference_name}" CASCADE')
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn, db_schema), "base")
    assert sa.inspect(engine).get_table_names(schema=db_schema) == ["alembic_version"]
    assert migrate(engine, db_schema) == head_revision()


def _simulation_days(engine: sa.Engine, schema: str) -> dict[str, object]:
    """What 0006 left of ``simulation_days``: its rows, and its privileges, function and triggers
    with the schema's name written ``S``."""
    table, function = f'"{schema}".simulation_days', f'"{schema}".simulation_days_record()'
    with engine.connect() as conn:
        found = {
            "privileges": conn.execute(
                sa.text("SELECT relacl::TEXT FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
            ).scalar(),
            "function": conn.execute(
                sa.text("SELECT pg_get_functiondef(to_regprocedure(:f))"), {"f": function}
            ).scalar(),
            "triggers": conn.execute(
                sa.text(
                    "SELECT tgname, pg_get_triggerdef(oid), tgenabled FROM pg_trigger "
                    "WHERE tgrelid = to_regclass(:t) AND tgname LIKE 'simulation_days%' ORDER BY 1"
                ),
                {"t": f'"{schema}".simulations'},
            ).all(),
        }
        rows = conn.exec_driver_sql(f"SELECT sim_creation_day_obs::TEXT FROM {table} ORDER BY 1").scalars()
        return {"rows": list(rows)} | {part: repr(text).replace(schema, "S") for part, text in found.items()}


def _insert_simulations(engine: sa.Engine, schema: str, *created: str | None) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        for time in created:
            conn.execute(INSERT_SIMULATION, {"u": uuid.uuid4(), "h": digest(str(time)), "l": "s", "t": time})


def test_downgrading_0011_restores_simulation_days_as_0006_left_it(
    engine: sa.Engine, pg_url: str, db_schema: str
) -> None:
    """Downgraded from the head to 0010, a schema has the ``simulation_days`` a schema upgraded
    to 0010 has: the same table and rows (every UTC creation dayobs of its simulations), the
    grant to the view's owner, the SECURITY DEFINER function with its pinned search path and
    triggers that record new days again. Upgraded again, all of it is gone."""
    upgraded, owner = services.new_schema_name(), f"vseq_owner_{uuid.uuid4().hex[:8]}"
    created = ("2025-12-08T20:00:00Z", "2025-12-09T11:00:00Z", "2025-12-09T12:00:00Z", None)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{owner}"; CREATE SCHEMA "{upgraded}"')
            command.upgrade(alembic_config(conn, upgraded), "0005")
            conn.exec_driver_sql(f'ALTER VIEW "{upgraded}".simulations_extra OWNER TO "{owner}"')
            command.upgrade(alembic_config(conn, upgraded), "0010")
        _insert_simulations(engine, upgraded, *created)  # recorded by 0006's triggers

        migrate(engine, db_schema)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'ALTER VIEW "{db_schema}".simulations_extra OWNER TO "{owner}"')
        _insert_simulations(engine, db_schema, *created)  # no triggers record them at the head
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn, db_schema), "0010")

        expected = _simulation_days(engine, upgraded)
        assert expected["rows"] == ["2025-12-08", "2025-12-09"]
        assert f"{owner}=r/" in expected["privileges"]
        assert "SECURITY DEFINER" in expected["function"]
        assert "search_path TO 'S', 'pg_temp'" in expected["function"]
        assert _simulation_days(engine, db_schema) == expected
        assert _catalog(engine, db_schema) == _catalog(engine, upgraded)
        _insert_simulations(engine, upgraded, "2025-12-31T20:00:00Z")
        _insert_simulations(engine, db_schema, "2025-12-31T20:00:00Z")
        assert _simulation_days(engine, db_schema) == _simulation_days(engine, upgraded)

        assert migrate(engine, db_schema) == head_revision()
        with engine.connect() as conn:
            left = conn.execute(
                sa.text(
                    "SELECT to_regclass(:t), to_regprocedure(:f), "
                    "(SELECT COUNT(*) FROM pg_trigger WHERE tgname LIKE 'simulation_days%' "
                    "AND tgrelid = to_regclass(:s))"
                ),
                {
                    "t": f'"{db_schema}".simulation_days',
                    "f": f'"{db_schema}".simulation_days_record()',
                    "s": f'"{db_schema}".simulations',
                },
            ).one()
        assert tuple(left) == (None, None, 0)
    finally:
        services.drop_schema(pg_url, upgraded)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{owner}"; DROP ROLE "{owner}"')


def test_indexes_serve_the_ranking(engine: sa.Engine, db_schema: str) -> None:
    """The UTC creation-dayobs expression the queries use matches the expression index."""
    migrate(engine, db_schema)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{db_schema}"; SET LOCAL enable_seqscan TO off')
        plan = "\n".join(
            row[0]
            for row in conn.exec_driver_sql(
                "EXPLAIN SELECT * FROM simulations_extra "
                "WHERE sim_creation_day_obs = '2025-12-08' AND daily_id = 2"
            )
        )
        assert "simulations_creation_day_obs_idx" in plan
        plan = "\n".join(
            row[0]
            for row in conn.exec_driver_sql(
                f"EXPLAIN SELECT * FROM tags WHERE visitseq_uuid = '{uuid.uuid4()}' AND tag = 'x'"
            )
        )
        assert "Seq Scan" not in plan  # seq scans are off: one shows only when no index applies


def test_any_writer_numbers_its_simulations(engine: sa.Engine, db_schema: str) -> None:
    """A writer allowed to write ``simulations`` only (a reference writer) numbers its
    simulations in ``simulations_extra_columns`` through the triggers (SECURITY DEFINER), and
    temporary tables named like vseq's do not capture the numbers (pinned search path)."""
    migrate(engine, db_schema)
    role = f"vseq_writer_{uuid.uuid4().hex[:8]}"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{role}"')
            conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{db_schema}" TO "{role}"')
            conn.exec_driver_sql(f'GRANT SELECT, INSERT, UPDATE ON "{db_schema}".simulations TO "{role}"')
            conn.exec_driver_sql(f'SET LOCAL ROLE "{role}"; SET LOCAL search_path TO "{db_schema}"')
            for ddl in STORED_VIEW_COLUMNS.TABLES:
                conn.exec_driver_sql(ddl.replace("CREATE TABLE", "CREATE TEMP TABLE"))
            insert = sa.text(
                "INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, "
                "creation_time) VALUES (:u, :h, 'sim', 'simonyi', :t)"
            )
            sim = uuid.uuid4()
            conn.execute(insert, {"u": sim, "h": digest("a"), "t": "2025-12-08T20:00:00Z"})
            conn.execute(insert, {"u": uuid.uuid4(), "h": digest("b"), "t": "2025-12-09T11:00:00Z"})
            conn.execute(
                sa.text("UPDATE simulations SET creation_time = :t WHERE visitseq_uuid = :u"),
                {"t": "2025-12-20T20:00:00Z", "u": sim},
            )
            for table in STORED_VIEW_COLUMNS.NEW_TABLES:
                assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM pg_temp.{table}").scalar() == 0, table
        with engine.connect() as conn:
            numbers = conn.exec_driver_sql(
                f'SELECT sim_creation_day_obs::TEXT, daily_id FROM "{db_schema}".simulations_extra_columns '
                "ORDER BY 1"
            ).all()
            assert [tuple(row) for row in numbers] == [("2025-12-08", 1), ("2025-12-20", 1)]  # 12-09 11:00Z
            unnumbered = f'SELECT COUNT(*) FROM "{db_schema}".simulation_unnumbered_days'
            assert conn.exec_driver_sql(unnumbered).scalar() == 0
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')


INSERT_SIMULATION = sa.text(
    "INSERT INTO simulations (visitseq_uuid, visitseq_sha256, visitseq_label, telescope, creation_time) "
    "VALUES (:u, :h, :l, 'simonyi', :t)"
)


def _writer(engine: sa.Engine, schema: str, isolation: str = "READ COMMITTED") -> sa.Connection:
    """A writer's session; its lock timeout turns a wait on another writer into an error."""
    conn = engine.connect().execution_options(isolation_level=isolation)
    conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET lock_timeout TO '2s'")
    conn.commit()
    return conn


def _insert(conn: sa.Connection, created: str) -> None:
    conn.execute(INSERT_SIMULATION, {"u": uuid.uuid4(), "h": digest(created), "l": created, "t": created})


def _same_day_first_commits(w1: sa.Connection, w2: sa.Connection) -> None:
    _insert(w1, "2030-01-10T20:00:00Z")
    _insert(w2, "2030-01-10T21:00:00Z")  # the day is w1's, not committed yet
    w1.commit()
    w2.commit()


def _same_day_first_rolls_back(w1: sa.Connection, w2: sa.Connection) -> None:
    _insert(w1, "2030-01-10T20:00:00Z")
    _insert(w2, "2030-01-10T21:00:00Z")
    w1.rollback()
    w2.commit()


def _day_committed_after_the_snapshot(w1: sa.Connection, w2: sa.Connection) -> None:
    w2.exec_driver_sql("SELECT COUNT(*) FROM simulations")  # w2's snapshot (REPEATABLE READ)
    _insert(w1, "2030-01-10T20:00:00Z")
    w1.commit()
    _insert(w2, "2030-01-10T21:00:00Z")
    w2.commit()


def _different_new_days(w1: sa.Connection, w2: sa.Connection) -> None:
    _insert(w1, "2030-01-10T20:00:00Z")
    _insert(w2, "2030-01-11T20:00:00Z")
    w1.commit()
    w2.commit()


def _opposite_orders(w1: sa.Connection, w2: sa.Connection) -> None:
    _insert(w1, "2030-01-10T20:00:00Z")
    _insert(w2, "2030-01-11T20:00:00Z")
    _insert(w1, "2030-01-11T21:00:00Z")  # waited for w2 (which then waited for w1: a deadlock)
    _insert(w2, "2030-01-10T21:00:00Z")
    w1.commit()
    w2.commit()


@pytest.mark.parametrize(
    ("scenario", "isolation", "committed"),
    [
        (_same_day_first_commits, "READ COMMITTED", 2),
        (_same_day_first_rolls_back, "READ COMMITTED", 1),
        (_day_committed_after_the_snapshot, "REPEATABLE READ", 2),
        (_different_new_days, "SERIALIZABLE", 2),
        (_opposite_orders, "READ COMMITTED", 4),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)).strip("_"),
)
def test_writers_of_new_days_neither_wait_for_nor_fail_on_each_other(
    engine: sa.Engine, db_schema: str, scenario, isolation: str, committed: int
) -> None:
    """Inserting simulations never conflicts in the reference schema: vseq's triggers on
    ``simulations`` must not make one writer wait for another's uncommitted day (a deadlock with
    two writers in opposite orders), nor fail under REPEATABLE READ or SERIALIZABLE. Whatever day
    they leave unnumbered, the numbering is complete."""
    migrate(engine, db_schema)
    w1, w2 = _writer(engine, db_schema, isolation), _writer(engine, db_schema, isolation)
    try:
        scenario(w1, w2)
    finally:
        w1.close()
        w2.close()
    with engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{db_schema}"')
        rows = conn.exec_driver_sql(
            "SELECT sim_creation_day_obs, daily_id, creation_time FROM simulations_extra "
            "ORDER BY sim_creation_day_obs, creation_time"
        ).all()
    assert len(rows) == committed
    by_day: dict[object, list[int]] = {}
    for row in rows:
        by_day.setdefault(row.sim_creation_day_obs, []).append(row.daily_id)
    assert all(ids == list(range(1, len(ids) + 1)) for ids in by_day.values()), rows


def test_the_view_reads_when_the_adopting_role_does_not_own_it(
    engine: sa.Engine, pg_url: str, reference_schema: str
) -> None:
    """Production's objects may belong to a group role that the adopting login is a member of:
    the view keeps its owner, who must be able to read the tables vseq adds under it
    (``simulations_extra_columns``, ``simulation_unnumbered_days``; readers need no right on them,
    only on the view)."""
    suffix = uuid.uuid4().hex[:8]
    owner, admin, reader = (f"vseq_{kind}_{suffix}" for kind in ("owner", "admin", "reader"))
    schema_name = f'"{reference_schema}"'
    admin_engine = sa.create_engine(pg_url, connect_args={"options": f"-c role={admin}"})
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f'CREATE ROLE "{owner}"; CREATE ROLE "{admin}" IN ROLE "{owner}"; CREATE ROLE "{reader}"'
            )
            database = conn.exec_driver_sql("SELECT current_database()").scalar()
            conn.exec_driver_sql(f'GRANT CREATE ON DATABASE "{database}" TO "{owner}"')
            conn.exec_driver_sql(f'ALTER SCHEMA {schema_name} OWNER TO "{owner}"')
            relations = conn.execute(
                sa.text(
                    "SELECT relname, relkind FROM pg_class WHERE relnamespace = to_regnamespace(:s) "
                    "AND relkind IN ('r', 'v')"
                ),
                {"s": reference_schema},
            ).all()
            for name, kind in relations:
                what = "VIEW" if kind == "v" else "TABLE"
                conn.exec_driver_sql(f'ALTER {what} {schema_name}."{name}" OWNER TO "{owner}"')
            conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA {schema_name} TO "{reader}"')
            conn.exec_driver_sql(f'GRANT SELECT ON {schema_name}.simulations_extra TO "{reader}"')
            conn.execute(
                sa.text(
                    f"INSERT INTO {schema_name}.simulations (visitseq_uuid, visitseq_sha256, visitseq_label, "
                    "telescope, creation_time) VALUES (:u, :h, 'sim', 'simonyi', '2025-12-08T20:00:00Z')"
                ),
                {"u": uuid.uuid4(), "h": digest("a")},
            )
        assert migrate(admin_engine, reference_schema) == head_revision()
        for role in (reader, admin):
            with engine.begin() as conn:
                conn.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
                rows = conn.exec_driver_sql(
                    f"SELECT sim_creation_day_obs::TEXT, daily_id FROM {schema_name}.simulations_extra"
                ).all()
            assert [tuple(row) for row in rows] == [("2025-12-08", 1)], role
    finally:
        admin_engine.dispose()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
            for role in (reader, admin, owner):
                conn.exec_driver_sql(f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')
