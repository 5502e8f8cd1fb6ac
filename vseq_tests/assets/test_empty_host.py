"""Each step runs on a host with an empty disk, sharing only PostgreSQL and S3 with the others.

Three "hosts" run one night's steps one after the other, each with its own state directory,
``DAGSTER_HOME`` and ``TMPDIR``, on one Dagster instance in PostgreSQL and one S3 server
(SeaweedFS): host A queries ConsDB (``consdb_visits``, whose table goes to S3 through the
definitions' IO manager), host B archives it and reviews the night, host C runs the next night's
pre-night simulation, index and briefing. Before a host runs, the previous host's directory is
moved away (as good as unreachable); nothing may be written under it again, and no metadata value
may name a ``file://`` URL or a host's directory.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from vseq_assets.definitions import build_definitions
from vseq_assets.nightly import instance_template
from vseq_resources.config import Settings
from vseq_resources.metadata.database import MetadataDatabase
from vseq_resources.readers import load_partition
from vseq_tests.assets.conftest import LSSTCAM_VISITS, NIGHT
from vseq_tests.assets.helpers import prenight_clock
from vseq_tests.services import S3Server

PRENIGHT = "2025-10-17"
"""The pre-night partition after :data:`NIGHT` (it pre-loads NIGHT's completed visits)."""

SHORT_PRENIGHT = {"resources": {"prenight": {"config": {"duration_hours": 0.5, "record_rewards": False}}}}


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def _metadata_texts(result: ExecuteInProcessResult) -> list[str]:
    """``name: value`` of every metadata entry of a run's materializations and check results."""
    entries = [e.materialization.metadata for e in result.get_asset_materialization_events()]
    entries += [e.metadata for e in result.get_asset_check_evaluations()]
    return [f"{name}: {getattr(value, 'value', value)!r}" for md in entries for name, value in md.items()]


class Hosts:
    """Hosts that share the network services and nothing on disk."""

    def __init__(self, root: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.env = env
        self.monkeypatch = monkeypatch
        self.parked: dict[str, tuple[Path, dict[str, tuple[int, int]]]] = {}

    @contextmanager
    def host(self, name: str) -> Iterator[tuple[Path, Any, DagsterInstance]]:
        """A new host ``name``: an empty directory for its state, Dagster home and temporary files,
        the environment pointing there, the definitions loaded there (as a worker loads them)."""
        disk = self.root / name
        state, home, tmp = disk / "state", disk / "dagster_home", disk / "tmp"
        for directory in (state, home, tmp):
            directory.mkdir(parents=True)
        shutil.copyfile(instance_template(), home / "dagster.yaml")
        local = {"VSEQ_STATE_DIR": str(state), "DAGSTER_HOME": str(home), "TMPDIR": str(tmp)}
        for key, value in {**self.env, **local}.items():
            self.monkeypatch.setenv(key, value)
        self.monkeypatch.setattr(tempfile, "tempdir", None)
        defs = build_definitions(Settings.from_env())
        with DagsterInstance.from_config(str(home)) as instance:
            yield disk, defs, instance
        # The host goes away: its disk is out of reach of the hosts after it.
        parked = self.root / f"{name}.parked"
        disk.rename(parked)
        self.parked[name] = (disk, _tree(parked))

    def untouched(self) -> list[str]:
        """Problems: a gone host's directory written again, or its parked files changed."""
        problems = []
        for name, (disk, tree) in self.parked.items():
            if disk.exists():
                problems.append(f"{disk} was written after host {name} went away: {sorted(_tree(disk))}")
            if _tree(self.root / f"{name}.parked") != tree:
                problems.append(f"host {name}'s files changed after it went away")
        return problems


@pytest.fixture
def network_env(
    pg_url: str, db_schema: str, consdb_url: str, dagster_pg_url: str, s3_server: S3Server
) -> dict[str, str]:
    """The environment of every host: network services only (PostgreSQL, S3, ConsDB's SQL); the
    metadata schema migrated once beforehand, as ``vseqarchive migrate`` does in production."""
    archive_bucket, io_bucket = s3_server.create_bucket(), s3_server.create_bucket()
    MetadataDatabase.from_url(pg_url, db_schema, create=True).close()
    return {
        **s3_server.env,
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": db_schema,
        "VSEQ_ARCHIVE_URI": f"s3://{archive_bucket}/opsim/vseq/",
        "VSEQ_PRENIGHT_INDEX_URI": f"s3://{archive_bucket}/opsim/prenight_index/",
        "VSEQ_CONSDB_URL": consdb_url,
        "VSEQ_DAGSTER_PG_URL": dagster_pg_url,
        "VSEQ_IO_S3_BUCKET": io_bucket,
        "VSEQ_IO_S3_PREFIX": "steps",
        "VSEQ_PRENIGHT_NIGHTS": "1",
        "VSEQ_PRENIGHT_VARIANTS": "nominal",
    }


def _io_objects(env: dict[str, str]) -> list[str]:
    client = boto3.client("s3", endpoint_url=env["S3_ENDPOINT_URL"])
    listing = client.list_objects_v2(Bucket=env["VSEQ_IO_S3_BUCKET"], Prefix=env["VSEQ_IO_S3_PREFIX"])
    return [item["Key"] for item in listing.get("Contents", [])]


@pytest.mark.timeout(300)
def test_every_step_runs_on_an_empty_host(
    tmp_path: Path, network_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUBIN_SIM_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "no-home"))  # nothing from a home directory either
    prenight_clock(monkeypatch, PRENIGHT)
    hosts = Hosts(tmp_path / "hosts", network_env, monkeypatch)
    texts: list[str] = []

    with hosts.host("a") as (_, defs, instance):
        job = defs.resolve_job_def("simonyi_completed_night")
        result = job.execute_in_process(
            partition_key=NIGHT, instance=instance, asset_selection=[AssetKey(["simonyi", "consdb_visits"])]
        )
        assert result.success
        texts += _metadata_texts(result)
    # The ConsDB table went to S3, where host B reads it (Dagster's own pickle IO manager).
    assert _io_objects(network_env) == ["steps/simonyi/consdb_visits/" + NIGHT]

    with hosts.host("b") as (_, defs, instance):
        job = defs.resolve_job_def("simonyi_completed_night")
        result = job.execute_in_process(
            partition_key=NIGHT,
            instance=instance,
            asset_selection=[
                AssetKey(["simonyi", name])
                for name in ("completed_visits", "completed_metadata", "night_review")
            ],
        )
        assert result.success
        texts += _metadata_texts(result)

    with hosts.host("c") as (disk_c, defs, instance):
        job = defs.resolve_job_def("simonyi_prenight")
        result = job.execute_in_process(partition_key=PRENIGHT, instance=instance, run_config=SHORT_PRENIGHT)
        assert result.success
        texts += _metadata_texts(result)
        sims = next(
            e.materialization.metadata
            for e in result.get_asset_materialization_events()
            if e.materialization.asset_key == AssetKey(["simonyi", "prenight_sims"])
        )
        # Host C pre-loaded NIGHT from the archive: its empty cache was filled from there.
        assert sims["preloaded_visits"].value == LSSTCAM_VISITS
        assert sims["preloaded_sources"].value == {"archive": 1, "local_cache": 0}
        # Site data were built on host C, under its own state directory.
        assert any((disk_c / "state" / "site_data").iterdir())

    assert hosts.untouched() == []
    assert [t for t in texts if "file:" in t] == []
    assert [t for t in texts if str(tmp_path) in t] == []
    # A host that took no part reads the night's simulation and completed visits back.
    with hosts.host("reader"):
        assert len(load_partition("simonyi/completed_visits", NIGHT)) == LSSTCAM_VISITS
        assert len(load_partition("simonyi/prenight_sims", PRENIGHT)) > 0
