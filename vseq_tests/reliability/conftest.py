"""Fixtures of the reliability tests (the shared ones, pg_url, s3_server..., come from
``vseq_tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vseq_resources.archive import VisitSequenceArchive
from vseq_tests.reliability.support import FULL, open_archive

S3_POINTS_IN_CI = (None, "during_upload", "in_transaction")
"""Kill points run on the S3 store in CI (None: tests without kill points)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the long variants unless ``VSEQ_RELIABILITY_FULL=1``.

    CI runs a representative subset: every kill point on the local store, and on S3 the two
    whose outcome is S3's own (``during_upload``: the cut multipart upload stays invisible;
    ``in_transaction``: every file stored, no row). The variants marked ``full`` and S3 at the
    other kill points (the same outcome as the local store) run with ``VSEQ_RELIABILITY_FULL=1
    uv run pytest vseq_tests/reliability``, as ``docs/reliability.md`` records.
    """
    if FULL:
        return
    kept, deselected = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        s3_variant = params.get("store_base") == "s3" and params.get("point") not in S3_POINTS_IN_CI
        (deselected if item.get_closest_marker("full") or s3_variant else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture
def archive(pg_url: str, db_schema: str, store_base: str) -> Iterator[VisitSequenceArchive]:
    """A migrated schema and a store of each kind."""
    vsa = open_archive(pg_url, db_schema, store_base, create=True)
    yield vsa
    vsa.metadata.close()


@pytest.fixture(params=["visits", "notes"])
def kind(request: pytest.FixtureRequest) -> str:
    """The file an update replaces (``updates.py``): the visits (``visitseq_url``) or a side
    file (a ``files`` row)."""
    return request.param


@pytest.fixture
def file_archive(pg_url: str, db_schema: str, file_base: str) -> Iterator[VisitSequenceArchive]:
    vsa = open_archive(pg_url, db_schema, file_base, create=True)
    yield vsa
    vsa.metadata.close()


@pytest.fixture
def s3_archive(pg_url: str, db_schema: str, s3_base: str) -> Iterator[VisitSequenceArchive]:
    vsa = open_archive(pg_url, db_schema, s3_base, create=True)
    yield vsa
    vsa.metadata.close()


# -- a synthetic ConsDB with 14 nights, and a production-like Dagster instance ---------------------

import uuid as _uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from vseq_tests.reliability.support import create_database, dagster_home, drop_database  # noqa: E402

BACKFILL_NIGHTS = tuple(f"2025-10-{day:02d}" for day in range(1, 15))
VISITS_PER_NIGHT = 40


def visits_of(night: str) -> int:
    """A different visit count per night, so a night archived under another's name shows."""
    return VISITS_PER_NIGHT + BACKFILL_NIGHTS.index(night)


@pytest.fixture(scope="session")
def consdb_url(pg_url: str) -> Iterator[str]:
    from vseq_resources.consdb.local import create_consdb_schema, fill_nights
    from vseq_tests.resources.consdb.synthetic import synthetic_night

    url = create_database(pg_url, "consdb_reliability")
    engine = sa.create_engine(url)
    try:
        create_consdb_schema(engine, "lsstcam")
        for i, night in enumerate(BACKFILL_NIGHTS):
            fill_nights(engine, "lsstcam", synthetic_night(night, visits_of(night), seed=i))
        yield url
    finally:
        engine.dispose()
        drop_database(pg_url, url)


@pytest.fixture
def dagster_instance_home(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``$DAGSTER_HOME`` with the project's dagster.yaml, storage in a fresh PostgreSQL database."""
    url = create_database(pg_url, f"dagster_rel_{_uuid.uuid4().hex[:6]}")
    home = dagster_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("VSEQ_DAGSTER_PG_URL", url)
    yield home
    drop_database(pg_url, url)


@pytest.fixture
def rel_env(
    pg_url: str, db_schema: str, file_base: str, consdb_url: str, monkeypatch: pytest.MonkeyPatch
) -> dict:
    """The environment of :mod:`vseq_tests.reliability.dagster_job`, set here too."""
    from vseq_resources.metadata.database import MetadataDatabase

    MetadataDatabase.from_url(pg_url, db_schema, create=True).close()
    env = {
        "VSEQ_REL_DB_URL": pg_url,
        "VSEQ_REL_SCHEMA": db_schema,
        "VSEQ_REL_STORE": file_base,
        "VSEQ_REL_CONSDB_URL": consdb_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
