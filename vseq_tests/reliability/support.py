"""Helpers of the reliability tests: snapshots of everything an archive holds, subprocess
writers, waiting for fault markers, and the production-like Dagster instance."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.dayobs import dayobs_mjd_start
from vseq_resources.metadata.database import MetadataDatabase
from vseq_resources.store import ArchiveStore

REPO = Path(__file__).resolve().parents[2]
FULL = bool(os.environ.get("VSEQ_RELIABILITY_FULL"))
"""``VSEQ_RELIABILITY_FULL=1`` runs every variant; CI runs a representative subset (about 5 min)."""
PYTHON = sys.executable
VSEQARCHIVE = str(Path(sys.executable).with_name("vseqarchive"))
TABLES = (
    "visitseq",
    "simulations",
    "completed",
    "mixedvisitseq",
    "tags",
    "comments",
    "files",
    "file_checksums",
    "nightly_stats",
    "conda_env",
)


def open_archive(db_url: str, schema: str, store_uri: str, *, create: bool = False) -> VisitSequenceArchive:
    return VisitSequenceArchive(
        MetadataDatabase.from_url(db_url, schema, create=create), ArchiveStore(store_uri)
    )


def row_counts(archive: VisitSequenceArchive) -> dict[str, int]:
    """Rows of every archive table (``visitseq`` counts the children too, as PostgreSQL does)."""
    with archive.metadata.transaction() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def store_listing(archive: VisitSequenceArchive) -> list[str]:
    """Every object under the store base, whatever its name or depth (temporary files too)."""
    found = []
    for directory, _, files in archive.store.base.walk():
        for name in files:
            if name and not name.endswith("/"):
                found.append(str(directory.join(name)))
    return sorted(found)


def snapshot(archive: VisitSequenceArchive) -> tuple[dict[str, int], list[str]]:
    return row_counts(archive), store_listing(archive)


def referenced_urls(archive: VisitSequenceArchive) -> set[str]:
    return {ref.url for ref in archive.file_references()}


def big_visits(night: str, n_visits: int, seed: int = 0, columns: int = 30) -> pd.DataFrame:
    """Visits whose ``visits.h5`` is large (random floats barely compress): ~8 bytes per value."""
    rng = np.random.default_rng(seed)
    start = dayobs_mjd_start(night) + 0.52
    frame = pd.DataFrame(
        {
            "observationId": np.arange(n_visits, dtype=np.int64),
            "observationStartMJD": start + np.sort(rng.uniform(0, 0.4, n_visits)),
            "altitude": rng.uniform(30, 89, n_visits),
            "azimuth": rng.uniform(0, 360, n_visits),
            "band": rng.choice(list("ugrizy"), n_visits),
        }
    )
    for i in range(columns):
        frame[f"noise_{i}"] = rng.normal(size=n_visits)
    return frame


def small_visits(night: str, n_visits: int = 20, seed: int = 0) -> pd.DataFrame:
    return big_visits(night, n_visits, seed=seed, columns=2)


# -- subprocesses paused at a fault point --------------------------------------------------------


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("VSARCHIVE_PGHOST", "VSARCHIVE_PGDATABASE", "VSARCHIVE_PGUSER", "VSARCHIVE_PGPORT"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


@dataclass
class Paused:
    """A subprocess waiting at a fault point."""

    process: subprocess.Popen
    point: str
    pid: int
    marker: Path

    def kill(self) -> int:
        """SIGKILL the process that reached the point (a step process or the writer itself)."""
        os.kill(self.pid, signal.SIGKILL)
        if self.pid == self.process.pid:
            return self.process.wait(timeout=60)
        return self.process.wait(timeout=300)


def writer_command(action: str, db_url: str, schema: str, store: str, *options: str) -> list[str]:
    """The command line of the test writer process (``vseq_tests.reliability.writer``)."""
    return [
        PYTHON,
        "-m",
        "vseq_tests.reliability.writer",
        action,
        "--db",
        db_url,
        "--schema",
        schema,
        "--store",
        store,
        *options,
    ]


def start_paused(
    args: list[str], point: str, marker: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> Paused:
    """Start ``args`` with ``VSEQ_FAULT_PAUSE=point`` and wait until it pauses there."""
    marker.unlink(missing_ok=True)
    log = open(marker.with_suffix(".log"), "w")  # noqa: SIM115 - kept for the failure message
    process = subprocess.Popen(
        args,
        env=subprocess_env({**(env or {}), "VSEQ_FAULT_PAUSE": point, "VSEQ_FAULT_MARKER": str(marker)}),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(
                f"{args} exited ({process.returncode}) before reaching {point}:\n"
                + marker.with_suffix(".log").read_text()[-4000:]
            )
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{args} did not reach {point} within {timeout} s")
        time.sleep(0.05)
    name, pid = marker.read_text().split()
    assert name == point
    return Paused(process, point, int(pid), marker)


def wait_for(path: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)
    return path.read_text()


# -- Dagster: the production instance configuration on a fresh PostgreSQL database ----------------


def create_database(pg_url: str, prefix: str) -> str:
    import uuid

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def drop_database(pg_url: str, url: str) -> None:
    name = sa.make_url(url).database
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def dagster_home(directory: Path) -> Path:
    """A DAGSTER_HOME with the project's own dagster.yaml (PostgreSQL storage from
    ``VSEQ_DAGSTER_PG_URL``, run monitoring, pools)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", directory / "dagster.yaml")
    return directory


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sequence_rows(archive: VisitSequenceArchive) -> list[dict[str, Any]]:
    with archive.metadata.transaction() as conn:
        return [dict(r) for r in conn.execute(sa.text("SELECT * FROM visitseq")).mappings()]


def terminate_writer(pg_url: str, schema: str) -> None:
    """From a superuser connection, end the backend holding the open write transaction on
    ``schema`` (only that one: other tests may hold transactions on the same server)."""
    admin = sa.create_engine(pg_url)
    with admin.connect() as conn:
        killed = (
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a "
                    "WHERE a.state = 'idle in transaction' AND a.pid <> pg_backend_pid() "
                    "AND a.backend_xid IS NOT NULL AND a.pid IN ("
                    "  SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema)"
                ),
                {"schema": schema},
            )
            .scalars()
            .all()
        )
    admin.dispose()
    assert killed == [True], killed
