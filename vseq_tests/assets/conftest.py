"""Fixtures of the Dagster tests: a real ConsDB database, its REST service, and archive resources.

Everything is real: PostgreSQL (the ``pg_url`` server) holds a fresh ConsDB database built from
the official schemas and a fresh metadata schema per test; the store is a temporary directory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from vseq_resources.consdb import empty_opsim_visits
from vseq_resources.consdb.local import create_consdb_schema, fill_nights
from vseq_resources.consdb.rest_server import local_rest_server
from vseq_resources.dagster_resources import ArchiveResource
from vseq_tests.assets.helpers import file_archive_resource
from vseq_tests.resources.consdb.synthetic import synthetic_night

NIGHT = "2025-10-16"
EMPTY_NIGHT = "2025-10-17"
LSSTCAM_VISITS = 120
LATISS_VISITS = 30
REST_TOKEN = "assets-test-token-3b9d"


@pytest.fixture(scope="session")
def consdb_url(pg_url: str) -> Iterator[str]:
    """URL of a new ConsDB database (both instruments) with :data:`NIGHT` filled and
    :data:`EMPTY_NIGHT` ingested without visits; dropped after."""
    name = f"consdb_assets_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(pg_url).set(database=name)
    engine = sa.create_engine(url)
    try:
        for instrument in ("lsstcam", "latiss"):
            create_consdb_schema(engine, instrument)
        fill_nights(engine, "lsstcam", synthetic_night(NIGHT, LSSTCAM_VISITS))
        fill_nights(engine, "latiss", synthetic_night(NIGHT, LATISS_VISITS, seed=1))
        for instrument in ("lsstcam", "latiss"):  # a cloudy night: the daily calibrations only
            fill_nights(engine, instrument, empty_opsim_visits(0), nights=[EMPTY_NIGHT])
        yield url.render_as_string(hide_password=False)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def consdb_engine(consdb_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(consdb_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def rest_base_url(consdb_url: str) -> Iterator[str]:
    """A local ConsDB REST service over the test ConsDB (bearer token :data:`REST_TOKEN`)."""
    engine = sa.create_engine(consdb_url)
    with local_rest_server(engine, REST_TOKEN) as base_url:
        yield base_url
    engine.dispose()


@pytest.fixture
def archive_resource(pg_url: str, db_schema: str, tmp_path: Path) -> ArchiveResource:
    """An archive in a fresh metadata schema and a temporary ``file://`` store."""
    return file_archive_resource(pg_url, db_schema, tmp_path)


@pytest.fixture
def dagster_pg_url(pg_url: str) -> Iterator[str]:
    """A fresh database for Dagster's run/event storage; dropped afterwards."""
    name = f"dagster_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
