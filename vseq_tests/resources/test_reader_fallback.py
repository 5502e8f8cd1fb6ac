"""When readers fall back on the snapshots: only when the database cannot be reached.

A closed port, a host name that does not resolve and a server that never answers fall back (see
also ``test_readers.py``). A server that answers but refuses the reader (a wrong password, an
unknown role) or lacks the archive (a missing schema) is a configuration error and raises:
falling back would silently serve possibly stale snapshots.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.errors import ConfigurationError, DatabaseUnavailableError
from vseq_resources.prenight_index import write_prenight_index
from vseq_resources.readers import ArchiveReader, load_partition
from vseq_tests.resources.readers_support import record_sim

NIGHT = "2026-04-11"


@pytest.fixture
def archive(archive: VisitSequenceArchive) -> VisitSequenceArchive:
    """The shared archive with one pre-night simulation of NIGHT and its snapshot."""
    record_sim(archive, "nominal", [NIGHT], per_night=10)
    write_prenight_index(archive, NIGHT, "simonyi")
    return archive


def _reader(archive: VisitSequenceArchive, url: str, schema: str | None = None) -> ArchiveReader:
    assert archive.settings is not None
    return ArchiveReader(
        url, schema or archive.metadata.schema, archive.settings.index_uri, connect_timeout=2
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("where", ["closed port", "unknown host"])
def test_unreachable_database_falls_back_on_the_snapshots(archive: VisitSequenceArchive, where: str) -> None:
    host = f"127.0.0.1:{_closed_port()}" if where == "closed port" else "vseq-no-such-host.invalid"
    reader = _reader(archive, f"postgresql+psycopg2://postgres@{host}/postgres")
    index = reader.prenight_index(NIGHT)
    assert reader.last_source == "snapshot" and len(index) == 1
    assert len(load_partition("simonyi/prenight_index", NIGHT, reader=reader)) == 1


def test_missing_schema_is_an_error(archive: VisitSequenceArchive, pg_url: str) -> None:
    reader = _reader(archive, pg_url, schema="test_no_such_schema_here")
    with pytest.raises(ConfigurationError, match="test_no_such_schema_here") as raised:
        reader.prenight_index(NIGHT)
    assert not isinstance(raised.value, DatabaseUnavailableError)
    assert reader.last_source is None
    with pytest.raises(ConfigurationError, match="missing or not migrated"):
        load_partition("simonyi/prenight_index", NIGHT, reader=reader)


def test_unknown_role_is_an_error(archive: VisitSequenceArchive, pg_url: str) -> None:
    url = sa.make_url(pg_url).set(username="vseq_no_such_role", password=None)
    reader = _reader(archive, url.render_as_string(hide_password=False))
    with pytest.raises(ConfigurationError, match="refused user 'vseq_no_such_role'") as raised:
        reader.prenight_index(NIGHT)
    assert not isinstance(raised.value, DatabaseUnavailableError)
    assert reader.last_source is None


@pytest.fixture(scope="module")
def password_server() -> Iterator[str]:
    """A real PostgreSQL server (embedded, on a Unix socket) where role ``vseq_pw`` must give
    the password ``right-password`` (scram-sha-256); yields the role's URL, without password."""
    from vseq_resources.embedded import embedded_database_url, stop_embedded_database

    state = Path(tempfile.mkdtemp(prefix="vseq-pw-", dir="/var/tmp"))
    try:
        admin_url = embedded_database_url(state)
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("SET password_encryption = 'scram-sha-256'"))
            conn.execute(sa.text("CREATE ROLE vseq_pw LOGIN PASSWORD 'right-password'"))
            hba = Path(conn.execute(sa.text("SHOW hba_file")).scalar())
            hba.write_text("local all vseq_pw scram-sha-256\n" + hba.read_text())
            conn.execute(sa.text("SELECT pg_reload_conf()"))
        engine.dispose()
        yield sa.make_url(admin_url).set(username="vseq_pw").render_as_string(hide_password=False)
    finally:
        stop_embedded_database(state)
        shutil.rmtree(state, ignore_errors=True)


def test_wrong_password_is_an_error(
    archive: VisitSequenceArchive, password_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "right-password")
    with sa.create_engine(password_server).connect() as conn:  # the role really logs in
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "vseq_pw"
    monkeypatch.setenv("PGPASSWORD", "wrong-password")
    reader = _reader(archive, password_server)
    with pytest.raises(ConfigurationError, match="password authentication failed") as raised:
        reader.prenight_index(NIGHT)
    assert not isinstance(raised.value, DatabaseUnavailableError)
    assert reader.last_source is None
