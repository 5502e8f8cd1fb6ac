"""Create, upgrade or adopt the metadata schema, from code (no ``alembic.ini`` on disk).

Three starting points end at the same head revision:

- no schema, or an empty one: every revision runs, starting with the reference schema (0001);
- a schema the reference implementation created (production ``vsmd``): it holds the reference
  tables but no ``alembic_version``. It is stamped at 0001, without touching it, and only our
  additive revisions run;
- a schema vseq already manages: the missing revisions run.

Everything happens in one transaction under an advisory lock, so two processes migrating at once
serialise, and a failure leaves the schema as it was. Each migration ends by granting the roles that
use the schema the same privileges on vseq's tables as on the reference tables they stand beside
(:func:`_share_vseq_tables`). What a migration did that an operator must know (adoption and its
time zone change, grants) is logged on this module's logger; ``vseqarchive migrate`` prints it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..config import validate_schema_name
from ..errors import ConfigurationError
from .schema import REFERENCE_TABLES, REFERENCE_VIEWS

if TYPE_CHECKING:  # Alembic is imported only when migrating (commands that only query start faster)
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
REFERENCE_REVISION = "0001"
VERSION_TABLE = "alembic_version"
PRIVILEGES_FROM = {
    VERSION_TABLE: "visitseq",
    "file_checksums": "files",
    "simulation_tag_spans": "simulations",
    "accumulated_stats": "nightly_stats",
    "simulations_extra_columns": "simulations",
    "simulation_unnumbered_days": "simulations",
}
"""Each table vseq adds, and the reference table whose privileges it gets (same purpose)."""
ADOPTION_NOTE = (
    "adopted schema {schema} created by rubin_sim.sim_archive. Upgrade note: simulations_extra now "
    "computes sim_creation_day_obs and daily_id in UTC, whatever the client's session time zone; the "
    "reference view used the session's, so a client whose session is not in UTC may see other names "
    "after this upgrade (a simulation created at 12:00:01Z was '2026-12-04 #3' in an America/Santiago "
    "session, it is now '2026-12-05 #1'). UTC clients see no change. See docs/compatibility.md."
)


def alembic_config(connection: sa.Connection | None = None, schema: str | None = None) -> Config:
    """An Alembic Config built in code, carrying the connection and schema env.py runs on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def migrate(engine: sa.Engine, schema: str) -> str:
    """Bring ``schema`` to the head revision (creating or adopting it); return that revision."""
    from alembic import command

    validate_schema_name(schema)
    with engine.begin() as conn:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"vseq-migrate:{schema}"}
        )
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        config = alembic_config(conn, schema)
        adopting = _revision(conn, schema) is None and _is_reference_schema(conn, schema)
        if adopting:
            command.stamp(config, REFERENCE_REVISION)
        command.upgrade(config, "head")
        revision = _revision(conn, schema)
        for note in _share_vseq_tables(conn, schema):
            log.info(note)
        if adopting:
            log.warning(ADOPTION_NOTE.format(schema=schema))
    assert revision is not None
    return revision


def _share_vseq_tables(conn: sa.Connection, schema: str) -> list[str]:
    """Grant every role the privileges on vseq's tables that it holds on their reference
    counterparts (:data:`PRIVILEGES_FROM`); return what was granted, one line each.

    Production's roles (``reader``: SELECT; ``writer``: SELECT, INSERT, UPDATE) were granted on
    the tables the reference created; the tables vseq adds are new to them, so without this a
    read-only role could no longer read a sequence after adoption. Run on every migration (GRANT
    is idempotent), so privileges granted on the reference tables later are carried over too. Only
    grants, never revokes.
    """
    granted = []
    for table, source in PRIVILEGES_FROM.items():
        rows = conn.execute(
            sa.text(
                "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,"
                " a.privilege_type "
                "FROM pg_class AS c CROSS JOIN LATERAL aclexplode(c.relacl) AS a "
                "LEFT JOIN pg_roles AS r ON r.oid = a.grantee "
                "WHERE c.oid = to_regclass(:source) AND a.grantee <> c.relowner "
                "AND to_regclass(:target) IS NOT NULL "
                "ORDER BY 1, 2"
            ),
            {"source": f'"{schema}"."{source}"', "target": f'"{schema}"."{table}"'},
        ).all()
        by_role: dict[str, list[str]] = {}
        for role, privilege in rows:
            by_role.setdefault(role, []).append(privilege)
        for role, privileges in by_role.items():
            conn.exec_driver_sql(f'GRANT {", ".join(privileges)} ON "{schema}"."{table}" TO {role}')
            granted.append(f"granted {', '.join(privileges)} on {table} to {role} (as on {source})")
    return granted


def current_revision(engine: sa.Engine, schema: str) -> str | None:
    """The revision ``schema`` is at, or None when vseq has never migrated it."""
    validate_schema_name(schema)
    with engine.connect() as conn:
        return _revision(conn, schema)


def _revision(conn: sa.Connection, schema: str) -> str | None:
    table = conn.execute(
        sa.text("SELECT to_regclass(:name)"), {"name": f'"{schema}".{VERSION_TABLE}'}
    ).scalar()
    if table is None:
        return None
    return conn.exec_driver_sql(f'SELECT version_num FROM "{schema}".{VERSION_TABLE}').scalar()


def _is_reference_schema(conn: sa.Connection, schema: str) -> bool:
    """Whether an unversioned schema holds the reference objects (False when it holds nothing).

    A schema holding only some of them is neither ours nor the reference's: refuse rather than
    build on top of it.
    """
    present = set(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind IN ('r', 'v')"
            ),
            {"schema": schema},
        ).scalars()
    )
    present.discard(VERSION_TABLE)  # left empty by a downgrade to the base
    expected = set(REFERENCE_TABLES) | set(REFERENCE_VIEWS)
    if not present:
        return False
    if expected <= present:
        return True
    missing = ", ".join(sorted(expected - present))
    raise ConfigurationError(
        f"schema {schema!r} holds tables but is not a visit sequence archive (missing: {missing}); "
        "refusing to migrate it"
    )
