"""Connection failures become one clear line; sessions are in the schema and in UTC."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from vseq_resources.errors import ConfigurationError, DatabaseUnavailableError
from vseq_resources.metadata import MetadataDatabase


def test_unreachable_host() -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        MetadataDatabase.from_url("postgresql+psycopg2://u:sekret@127.0.0.1:1/db", "vsmd", connect_timeout=2)
    message = str(caught.value)
    assert "127.0.0.1:1/db" in message and "refused" in message.lower()
    assert "sekret" not in message and "\n" not in message


def test_missing_database(pg_url: str) -> None:
    url = sa.make_url(pg_url).set(database="vseq_no_such_database")
    with pytest.raises(ConfigurationError, match="does not exist") as caught:
        MetadataDatabase.from_url(url, "vsmd")
    assert not isinstance(caught.value, DatabaseUnavailableError)


def test_unknown_user(pg_url: str) -> None:
    url = sa.make_url(pg_url).set(username="vseq_no_such_role")
    with pytest.raises(ConfigurationError, match="vseq_no_such_role") as caught:
        MetadataDatabase.from_url(url, "vsmd")
    assert not isinstance(caught.value, DatabaseUnavailableError)


def test_missing_schema(pg_url: str, db_schema: str) -> None:
    with pytest.raises(ConfigurationError, match=f"schema '{db_schema}'.*not migrated") as caught:
        MetadataDatabase.from_url(pg_url, db_schema)
    assert "\n" not in str(caught.value)


def test_invalid_schema_name(pg_url: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid schema name"):
        MetadataDatabase.from_url(pg_url, 'vsmd"; DROP SCHEMA public; --')


def test_sessions_use_schema_and_utc(pg_url: str, db: MetadataDatabase) -> None:
    """Even on an engine that was used before (its pooled connections predate the settings)."""
    engine = sa.create_engine(pg_url, connect_args={"options": "-c timezone=America/Santiago"})
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    database = MetadataDatabase(engine, db.schema)
    with database.transaction() as conn:
        assert conn.exec_driver_sql("SHOW timezone").scalar() == "UTC"
        assert conn.exec_driver_sql("SELECT current_schema()").scalar() == db.schema
    created = database.insert_visitseq(
        "visitseq", {"visitseq_sha256": b"\0" * 32, "visitseq_label": "x", "telescope": "simonyi"}
    )
    assert database.get_metadata(created)["creation_time"].utcoffset() == dt.timedelta(0)
    database.close()
