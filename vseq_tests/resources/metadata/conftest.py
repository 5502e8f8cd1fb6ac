"""Fixtures of the metadata tests: a migrated schema, a reference-created one, sample rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from vseq_resources.metadata import MetadataDatabase
from vseq_tests import services

from .support import AddSimulation, create_reference_schema, digest


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(pg_url: str, db_schema: str) -> Iterator[MetadataDatabase]:
    """A MetadataDatabase on a freshly migrated schema."""
    database = MetadataDatabase.from_url(pg_url, db_schema, create=True)
    yield database
    database.close()


@pytest.fixture
def reference_schema(pg_url: str) -> Iterator[str]:
    """A second fresh schema, created by the reference DDL."""
    schema = services.new_schema_name("test_ref")
    create_reference_schema(pg_url, schema)
    yield schema
    services.drop_schema(pg_url, schema)


@pytest.fixture
def add_simulation(db: MetadataDatabase) -> AddSimulation:
    """Insert a simulation: ``add_simulation(created, first, last, tags=..., telescope=...)``."""

    def add(
        creation_time: dt.datetime,
        first_day_obs: str = "2025-12-09",
        last_day_obs: str = "2025-12-10",
        tags: tuple[str, ...] = ("prenight", "ideal", "nominal"),
        telescope: str = "simonyi",
        label: str = "sim",
    ) -> uuid.UUID:
        sim = db.insert_visitseq(
            "simulations",
            {
                "visitseq_sha256": digest(label),
                "visitseq_label": label,
                "telescope": telescope,
                "first_day_obs": first_day_obs,
                "last_day_obs": last_day_obs,
                "creation_time": creation_time,
                "scheduler_version": "4.6.0",
                "sim_runner_kwargs": {"mjd_start": 61018.5},
            },
        )
        db.tag(sim, *tags)
        return sim

    return add
