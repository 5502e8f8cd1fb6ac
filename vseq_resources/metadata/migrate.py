"""Create, upgrade or adopt the metadata schema, from code (no ``alembic.ini`` on disk).

Three starting points end at the same head revision:

- no schema, or an empty one: every revision runs, starting with the reference schema (0001);
- a schema the reference implementation created (production ``vsmd``): it holds the reference
  tables but no ``alembic_version``. It is stamped at 0001, without touching it, and only our
  additive revisions run;
- a schema vseq already manages: the missing revisions run.

Everything happens in one transaction under an advisory lock, so two processes migrating at once
serialise, and a failure leaves the schema as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..config import validate_schema_name
from ..errors import ConfigurationError
from .schema import REFERENCE_TABLES, REFERENCE_VIEWS

if TYPE_CHECKING:  # Alembic is imported only when migrating (commands that only query start faster)
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
REFERENCE_REVISION = "0001"
VERSION_TABLE = "alembic_version"


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
        if _revision(conn, schema) is None and _is_reference_schema(conn, schema):
            command.stamp(config, REFERENCE_REVISION)
        command.upgrade(config, "head")
        revision = _revision(conn, schema)
    assert revision is not None
    return revision


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
