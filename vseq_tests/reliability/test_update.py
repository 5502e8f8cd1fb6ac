"""Replacing a stored file (``archive_file(..., update=True)``, ``archive-file --update``) never
loses the committed version (issue 19, points 1 and 2).

Each fault really happens during the update and is shown to have happened: a role without the
UPDATE privilege (the database says "permission denied"), the writer's connection terminated
inside the transaction (the error says the connection was lost). After each, ``verify`` finds the
committed file intact and reading it gives the committed content. The SIGKILLs of an update (in
the transaction; after the commit, before the move) are in ``test_kill.py``. Every case runs for
the visits (``visitseq_url``) and a side file, on file:// and s3://.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.errors import DatabaseUnavailableError, PermissionDeniedError
from vseq_resources.metadata.database import MetadataDatabase
from vseq_resources.store import STAGING_MARK
from vseq_tests.reliability import updates
from vseq_tests.reliability.support import store_listing, terminate_writer, wait_for
from vseq_tests.reliability.updates import NEW_NOTES, NEW_VISITS


@pytest.fixture
def no_update_role(pg_url: str, archive: VisitSequenceArchive) -> Iterator[str]:
    """A role that may read and insert but not update: its URL."""
    schema = archive.metadata.schema
    name = f"vseq_noupdate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{name}" LOGIN'))
        conn.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{name}"'))
        conn.execute(sa.text(f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "{schema}" TO "{name}"'))
    yield sa.make_url(pg_url).set(username=name, password=None).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"), {"n": name}
        )
        conn.execute(sa.text(f'DROP OWNED BY "{name}"'))
        conn.execute(sa.text(f'DROP ROLE "{name}"'))
    admin.dispose()


def test_update_refused_at_commit_keeps_the_committed_file(
    archive: VisitSequenceArchive, no_update_role: str, kind: str, tmp_path: Path
) -> None:
    seq = updates.committed(archive)
    files = store_listing(archive)
    limited = VisitSequenceArchive(
        MetadataDatabase.from_url(no_update_role, archive.metadata.schema), archive.store
    )
    try:
        with pytest.raises(PermissionDeniedError, match="permission denied"):
            updates.update(limited, seq, kind, updates.new_content(kind, tmp_path))
    finally:
        limited.metadata.close()
    updates.assert_intact(archive, seq, kind, tmp_path)
    assert store_listing(archive) == files  # the new content's staging object is gone too
    # The same update by a role that may update succeeds and is read back.
    updates.update(archive, seq, kind, updates.new_content(kind, tmp_path))
    assert updates.content(archive, seq, kind, tmp_path) == (NEW_VISITS if kind == "visits" else NEW_NOTES)
    assert archive.verify(grace=dt.timedelta(0)).ok
    assert store_listing(archive) == files


def test_connection_cut_before_commit_keeps_the_committed_file(
    archive: VisitSequenceArchive,
    pg_url: str,
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seq = updates.committed(archive)
    files = store_listing(archive)
    source = updates.new_content(kind, tmp_path)
    marker = tmp_path / "marker"
    monkeypatch.setenv("VSEQ_FAULT_PAUSE", "in_transaction")
    monkeypatch.setenv("VSEQ_FAULT_MARKER", str(marker))
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(updates.update, archive, seq, kind, source)
        try:
            wait_for(marker)
            # The new content is staged beside the committed file, which is untouched so far.
            assert any(STAGING_MARK in url for url in store_listing(archive)), store_listing(archive)
            terminate_writer(pg_url, archive.metadata.schema)
        finally:
            marker.unlink(missing_ok=True)  # never leave the writer waiting
        error = future.exception(timeout=600)
    monkeypatch.delenv("VSEQ_FAULT_PAUSE")
    assert isinstance(error, DatabaseUnavailableError), repr(error)
    assert "lost the connection" in str(error)
    updates.assert_intact(archive, seq, kind, tmp_path)
    assert store_listing(archive) == files
