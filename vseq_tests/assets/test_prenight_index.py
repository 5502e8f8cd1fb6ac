"""``<telescope>/prenight_index`` materialized for real: snapshots of every covered night, rewritten
after new simulations, checked against the database, read back through the fallback path."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path

import pandas as pd
from dagster import materialize
from lsst.resources import ResourcePath

from vseq_assets.prenight_index import prenight_index_asset, prenight_index_check, snapshots_check_result
from vseq_resources.dagster_resources import ArchiveResource
from vseq_resources.prenight_index import prenight_index_path
from vseq_resources.prenight_snapshots import compare_snapshot, compare_snapshots
from vseq_resources.readers import ArchiveReader
from vseq_tests.assets.helpers import check_results, index_resource, materialized
from vseq_tests.resources.readers_support import record_sim

NIGHT = "2026-04-11"
NIGHTS = ("2026-04-11", "2026-04-12", "2026-04-13")


def run(resource: ArchiveResource, night: str = NIGHT):  # noqa: ANN201
    assets = [prenight_index_asset("simonyi"), prenight_index_check("simonyi")]
    return materialize(assets, partition_key=night, resources={"archive": resource})


def test_snapshots_of_every_covered_night(archive_resource: ArchiveResource, tmp_path: Path) -> None:
    resource = index_resource(archive_resource, tmp_path)
    vsa = resource.open()
    try:
        earlier = record_sim(
            vsa, "yesterday's nominal", ("2026-04-10", NIGHT), created="2026-04-10T14:00:00+00:00"
        )
        nominal = record_sim(vsa, "nominal", NIGHTS)
        delayed = record_sim(
            vsa, "delayed", NIGHTS, ("prenight", "ideal", "delay_10"), "2026-04-11T14:02:00+00:00"
        )
        result = run(resource)
        assert result.success
        meta = materialized(result, "simonyi", "prenight_index")
        assert meta["simulation_count"] == 3
        assert meta["nights_written"] == ", ".join(NIGHTS)
        index_uri = vsa.settings.index_uri
        for night, expected in zip(
            NIGHTS, ([earlier, nominal, delayed], [nominal, delayed], [nominal, delayed]), strict=True
        ):
            url = prenight_index_path(index_uri, night, "simonyi")
            assert list(json.loads(ResourcePath(url).read())) == expected, night
            # The reference reader's way of loading it.
            with ResourcePath(url).as_local() as local:
                frame = pd.read_json(local.ospath, orient="index")
            assert list(frame.index) == expected
        assert meta["url"] == prenight_index_path(index_uri, NIGHT, "simonyi")
        assert not ResourcePath(prenight_index_path(index_uri, "2026-04-10", "simonyi")).exists()
        checks = check_results(result)
        assert checks["prenight_index_matches_database"].passed

        # A new simulation: re-materializing rewrites every covered night, and the version changes.
        rerun = record_sim(vsa, "re-run", NIGHTS, created="2026-04-11T18:00:00+00:00", seed=5)
        second = run(resource)
        for night in NIGHTS:
            listed = json.loads(ResourcePath(prenight_index_path(index_uri, night, "simonyi")).read())
            assert rerun in listed
        assert materialized(second, "simonyi", "prenight_index")["simulation_count"] == 4
        assert check_results(second)["prenight_index_matches_database"].passed

        # Read back through the fallback path (database unreachable): what the database says.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        offline = ArchiveReader(
            f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres", vsa.metadata.schema, index_uri
        )
        online = ArchiveReader.for_archive(vsa)
        for night in NIGHTS:
            pd.testing.assert_frame_equal(offline.prenight_index(night), online.prenight_index(night))
            assert offline.last_source == "snapshot" and online.last_source == "database"
        latest = offline.latest_simulation(NIGHTS[1], NIGHTS[2], max_simulation_age=None)
        assert latest["visitseq_uuid"] == rerun

        # The database moves on without a new snapshot: the check says so, naming the difference.
        vsa.comment(nominal, "late note", author="planner")
        vsa.untag(delayed, "prenight")
        # (Dagster 1.13 cannot run a partitioned check without its asset: evaluate it directly.)
        evaluation = snapshots_check_result(*compare_snapshots(vsa, "simonyi", dt.date(2026, 4, 11)))
        assert not evaluation.passed
        differences = evaluation.metadata["differences"].value
        assert f"{delayed} is in the snapshot but not in the database" in differences
        assert f"{nominal} comments" in differences
        assert len(compare_snapshot(vsa, "simonyi", NIGHTS[2])) == 2
        assert run(resource).success and not compare_snapshot(vsa, "simonyi", NIGHTS[2])
    finally:
        vsa.metadata.close()


def test_night_without_simulations(archive_resource: ArchiveResource, tmp_path: Path) -> None:
    resource = index_resource(archive_resource, tmp_path)
    result = run(resource, "2026-05-01")
    meta = materialized(result, "simonyi", "prenight_index")
    assert meta["simulation_count"] == 0 and meta["nights_written"] == "2026-05-01"
    assert json.loads(ResourcePath(meta["url"]).read()) == {}
    assert check_results(result)["prenight_index_matches_database"].passed


def test_check_passes_with_sub_millisecond_creation_times(
    archive_resource: ArchiveResource, tmp_path: Path
) -> None:
    """Real creation times carry microseconds; the snapshot format keeps milliseconds."""
    resource = index_resource(archive_resource, tmp_path)
    vsa = resource.open()
    try:
        record_sim(vsa, "microseconds", [NIGHT], created="2026-04-11T14:00:00.806751+00:00")
        result = run(resource)
        assert result.success
        assert check_results(result)["prenight_index_matches_database"].passed
    finally:
        vsa.metadata.close()
