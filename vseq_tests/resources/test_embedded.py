"""The embedded PostgreSQL server starts, answers SQL, and is reused by later calls."""

import tempfile
from pathlib import Path

import sqlalchemy as sa

from vseq_resources.embedded import embedded_database_url, stop_embedded_database


def test_embedded_server_starts_and_is_reused() -> None:
    state = Path(tempfile.mkdtemp(prefix="vseq-embedded-", dir="/var/tmp"))
    try:
        url = embedded_database_url(state)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 40 + 2")).scalar() == 42
        engine.dispose()
        pid = (state / "pgdata" / "postmaster.pid").read_text().split()[0]
        assert embedded_database_url(state) == url
        assert (state / "pgdata" / "postmaster.pid").read_text().split()[0] == pid  # reused, not restarted
    finally:
        stop_embedded_database(state)
    assert not (state / "pgdata" / "postmaster.pid").exists()  # really stopped
