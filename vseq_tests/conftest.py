"""Shared fixtures: real PostgreSQL, real S3 (SeaweedFS), temporary stores and schemas."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vseq_tests import services

# Astropy must never try to download IERS tables here (no network): set before any test imports.
os.environ.setdefault("VSEQ_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def variants_in_the_test_process() -> Iterator[None]:
    """Simulations run in the test process simulate their variants one after the other, in it.

    A partition's default runs each variant in a freshly spawned interpreter, which re-imports
    rubin_scheduler: longer than these tests' quarter-hour simulations themselves. The runner
    gives the same visits either way (``test_runner.py`` compares the parallel path with this
    one); runs in subprocesses (``vseq-nightly``, the distributed and empty-host tests) keep the
    default.
    """
    from vseq_resources.simulation import runner

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "DEFAULT_WORKERS", 1)
        yield


@pytest.fixture(autouse=True)
def no_inherited_dagster_state_storage() -> Iterator[None]:
    """Each test starts with no current Dagster definitions-state storage, as a new process does.

    Entering a ``DagsterInstance`` makes its state storage current (a context variable) until the
    instance is exited; one left current by an earlier test outlives its instance, and the next
    ``materialize`` without an instance then fails with "Attempted to resolve undefined
    DagsterInstance weakref" (seen once in CI, in ``test_corruption.py``). Dagster has no public
    way to reset it; ``set_defs_state_storage`` is the context manager its instances use.
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of a real PostgreSQL server with superuser rights."""
    return services.postgres_server_url()


@pytest.fixture
def db_schema(pg_url: str) -> Iterator[str]:
    """A fresh, empty schema name (contains ``test``), dropped afterwards."""
    schema = services.new_schema_name()
    yield schema
    services.drop_schema(pg_url, schema)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[services.S3Server]:
    server = services.start_s3_server()
    old = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    yield server
    server.stop()
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_base(s3_server: services.S3Server) -> str:
    """An ``s3://`` archive base URI in a fresh bucket."""
    return f"s3://{s3_server.create_bucket()}/opsim/vseq/"


@pytest.fixture
def file_base(tmp_path: Path) -> str:
    """A ``file://`` archive base URI in a temporary directory."""
    base = tmp_path / "archive"
    base.mkdir()
    return base.as_uri() + "/"


@pytest.fixture(params=["file", "s3"])
def store_base(request: pytest.FixtureRequest) -> str:
    """Each store kind in turn: ``file://`` and ``s3://``."""
    return request.getfixturevalue(f"{request.param}_base")
