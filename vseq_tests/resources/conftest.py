"""Fixtures of the archive-library tests: one migrated archive on a fresh schema and a store.

``archive`` uses a ``file://`` store; a module that wants both store kinds overrides
``archive_store`` (for example ``return store_base``). The pre-night index sits beside the store,
as in production (``.../opsim/vseq/`` and ``.../opsim/prenight_index/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.config import ArchiveSettings


def index_beside(store: str) -> str:
    """The pre-night index URI next to the store ``store`` (a directory URI)."""
    return store.rstrip("/").rsplit("/", 1)[0] + "/prenight_index/"


@pytest.fixture
def archive_store(file_base: str) -> str:
    """The store of ``archive``: ``file://`` unless a module overrides this fixture."""
    return file_base


@pytest.fixture
def archive_settings(pg_url: str, db_schema: str, archive_store: str, tmp_path: Path) -> ArchiveSettings:
    """Settings of a fresh schema on the test server, ``archive_store`` and its index beside it."""
    return ArchiveSettings(
        database_url=pg_url,
        schema=db_schema,
        archive_uri=archive_store,
        prenight_index_uri=index_beside(archive_store),
        state_dir=tmp_path / "state",
    )


@pytest.fixture
def archive(archive_settings: ArchiveSettings) -> Iterator[VisitSequenceArchive]:
    """A migrated archive on ``archive_settings``, its database closed afterwards."""
    archive = VisitSequenceArchive.open(archive_settings, migrate=True)
    yield archive
    archive.metadata.close()
