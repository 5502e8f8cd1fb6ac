"""ConsDB fixtures: a fresh PostgreSQL database holding the official ConsDB schemas."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from vseq_resources.consdb.local import create_consdb_schema, fill_nights
from vseq_resources.consdb.rest_server import local_rest_server
from vseq_tests.resources.consdb.synthetic import (
    LATISS_VISITS,
    LSSTCAM_VISITS,
    NIGHT,
    REST_TOKEN,
    synthetic_night,
)


@pytest.fixture(scope="session")
def consdb_engine(pg_url: str) -> Iterator[sa.Engine]:
    """An engine on a new database (``consdb_test_<random>``) with both ConsDB schemas; dropped after.

    A separate database, because the ConsDB schema names (``cdb_lsstcam``...) are fixed.
    """
    name = f"consdb_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.make_url(pg_url).set(database=name))
    try:
        for instrument in ("lsstcam", "latiss"):
            create_consdb_schema(engine, instrument)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def filled_consdb(consdb_engine: sa.Engine) -> sa.Engine:
    """The ConsDB with :data:`NIGHT` filled for both instruments."""
    fill_nights(consdb_engine, "lsstcam", synthetic_night(NIGHT, LSSTCAM_VISITS))
    fill_nights(consdb_engine, "latiss", synthetic_night(NIGHT, LATISS_VISITS, seed=1))
    return consdb_engine


@pytest.fixture(scope="session")
def rest_base_url(filled_consdb: sa.Engine) -> Iterator[str]:
    """Base URL of a local REST service over the filled ConsDB (token :data:`REST_TOKEN`)."""
    with local_rest_server(filled_consdb, REST_TOKEN) as base_url:
        yield base_url
