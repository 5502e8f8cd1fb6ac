"""The cluster of the distributed tests (hosts, services, daemon, workers), removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from vseq_tests import services
from vseq_tests.distributed import hosts
from vseq_tests.distributed.cluster import Cluster
from vseq_tests.reliability.support import FULL

COMPLETED_NIGHTS = tuple(f"2025-10-{day:02d}" for day in range(1, 7))
PRENIGHT_NIGHTS = tuple(f"2025-10-{day:02d}" for day in range(2, 8))
"""Six pre-night partitions of one telescope and the six completed nights they pre-load (each
pre-night partition D depends on the completed night D-1)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the ``full`` tests here unless ``VSEQ_RELIABILITY_FULL=1``, also when this
    directory runs alone (in a whole-suite run ``vseq_tests/reliability/conftest.py`` does it)."""
    if FULL:
        return
    here = Path(__file__).parent
    dropped = [i for i in items if i.get_closest_marker("full") and here in Path(str(i.path)).parents]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]


@pytest.fixture
def cluster(pg_url: str, s3_server: services.S3Server) -> Iterator[Cluster]:
    missing = hosts.available()
    if missing:
        services.skip_unless_ci(f"the distributed tests make network namespaces: {missing}")
    workdir = Path(tempfile.mkdtemp(prefix="vseq-dist-", dir="/var/tmp"))
    made = Cluster(workdir, pg_url, s3_server, COMPLETED_NIGHTS, workers=2)
    try:
        yield made
    finally:
        made.close()
    shutil.rmtree(workdir)  # only after a pass: a failure leaves the hosts' logs in workdir/logs
