"""Pre-night index snapshots: path, content, whole rewrites, reading back (file:// and s3://)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from lsst.resources import ResourcePath

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.errors import InvalidInputError
from vseq_resources.prenight_index import (
    prenight_index_json,
    prenight_index_path,
    read_prenight_index,
    write_prenight_index,
)
from vseq_tests.resources.cli.support import opsim_visits


@pytest.fixture
def archive_store(store_base: str) -> str:
    """Both store kinds."""
    return store_base


def test_path() -> None:
    assert (
        prenight_index_path("s3://rubin:rubin-scheduler-prenight/opsim/prenight_index", "20260411", "simonyi")
        == "s3://rubin:rubin-scheduler-prenight/opsim/prenight_index/simonyi/2026/4/"
        "simonyi_prenights_for_2026-04-11.json"
    )
    assert prenight_index_path("file:///x/", "2026-12-01", "auxtel").endswith(
        "/x/auxtel/2026/12/auxtel_prenights_for_2026-12-01.json"
    )
    with pytest.raises(InvalidInputError):
        prenight_index_path("file:///x/", "2026-12-01", "hubble")


def record(
    archive: VisitSequenceArchive,
    label: str,
    nights: tuple[str, ...],
    tags: tuple[str, ...],
    created: str,
    **columns,
) -> str:  # noqa: ANN003
    recorded = archive.record_sequence(
        "simulations",
        opsim_visits(nights, per_night=10),
        label=label,
        telescope="simonyi",
        creation_time=dt.datetime.fromisoformat(created),
        tags=tags,
        **columns,
    )
    return str(recorded.uuid)


def test_write_and_read(archive: VisitSequenceArchive) -> None:
    env_hash = archive.record_package_environment([{"name": "rubin-scheduler", "version": "4.6.0"}])
    nominal = record(
        archive,
        "nominal",
        ("2026-04-11", "2026-04-12"),
        ("prenight", "ideal", "nominal"),
        "2026-04-11T14:00:00+00:00",
        scheduler_version="4.6.0",
        conda_env_sha256=env_hash,
    )
    archive.comment(nominal, "all good", author="night planner")
    archive.archive_file(nominal, b"rewards", "rewards", name="rewards.h5")
    variant = record(archive, "delayed start", ("2026-04-11",), ("prenight",), "2026-04-11T15:00:00+00:00")
    archive.metadata.insert_nightly_stats(variant, pd.DataFrame(columns=["day_obs", "value_name"]))
    record(archive, "not prenight", ("2026-04-11",), ("ideal",), "2026-04-11T16:00:00+00:00")
    record(archive, "other night", ("2026-04-13",), ("prenight",), "2026-04-11T16:00:00+00:00")

    url = write_prenight_index(archive, "20260411", "simonyi")
    assert url == archive.settings.index_uri + "simonyi/2026/4/simonyi_prenights_for_2026-04-11.json"
    raw = ResourcePath(url).read().decode()
    document = json.loads(raw)
    assert list(document) == [nominal, variant]
    entry = document[nominal]
    assert entry["visitseq_label"] == "nominal"
    assert entry["conda_env_sha256"] == env_hash.hex()
    assert entry["first_day_obs"] == "2026-04-11" and entry["last_day_obs"] == "2026-04-12"
    assert entry["sim_creation_day_obs"] == "2026-04-11" and entry["daily_id"] == 1
    assert entry["creation_time"] == "2026-04-11T14:00:00.000Z"
    assert entry["tags"] == ["ideal", "nominal", "prenight"]
    assert list(entry["comments"].values()) == ["all good"]
    assert entry["files"] == {"rewards": archive.metadata.get_files(nominal)["rewards"][0]}
    assert set(entry["stats"]) == {"altitude", "azimuth"}
    assert entry["stats"]["azimuth"]["count"] == 10
    assert document[variant]["parent_visitseq_uuid"] is None
    assert document[variant]["conda_env_sha256"] is None
    assert document[variant]["comments"] == {} and document[variant]["files"] == {}
    assert raw == prenight_index_json(
        archive.metadata.prenight_simulations(
            "2026-04-11", "simonyi", tags=("prenight",), max_simulation_age=None, with_stats=True
        )
    )

    frame = read_prenight_index(archive.settings.index_uri, dt.date(2026, 4, 11), "simonyi")
    assert list(frame.index) == [nominal, variant]
    assert frame.loc[nominal, "first_day_obs"] == dt.date(2026, 4, 11)
    assert frame.loc[nominal, "creation_time"] == pd.Timestamp("2026-04-11T14:00:00Z")

    # Rewritten whole: a simulation that no longer qualifies disappears.
    archive.untag(variant, "prenight")
    write_prenight_index(archive, "2026-04-11", "simonyi")
    assert list(read_prenight_index(archive.settings.index_uri, "2026-04-11", "simonyi").index) == [nominal]
    if url.startswith("file://"):
        leftovers = [p.name for p in Path(ResourcePath(url).dirname().ospath).iterdir()]
        assert leftovers == ["simonyi_prenights_for_2026-04-11.json"]


def test_missing_index_is_empty(archive: VisitSequenceArchive) -> None:
    frame = read_prenight_index(archive.settings.index_uri, "2030-01-01", "auxtel")
    assert frame.empty
    url = write_prenight_index(archive, "2030-01-01", "auxtel")
    assert json.loads(ResourcePath(url).read()) == {}
    assert read_prenight_index(archive.settings.index_uri, "2030-01-01", "auxtel").empty


def test_destination_override(archive: VisitSequenceArchive, tmp_path: Path) -> None:
    destination = (tmp_path / "elsewhere").as_uri()
    url = write_prenight_index(archive, "2026-04-11", "auxtel", destination)
    assert url.startswith(destination) and Path(ResourcePath(url).ospath).is_file()
