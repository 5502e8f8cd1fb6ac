"""The production pre-night batch script's sequence of commands, replayed against vseq.

The script (rubin_sim's pre-night jobs) records the completed visits, records the simulation,
sets its provenance, archives its visits (from opsim sqlite) and rewards, tags it, records the
conda environment, fetches the visits back to compute nightly statistics, and finally writes the
pre-night index of every simulated night.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
from lsst.resources import ResourcePath

from vseq_resources.store import ArchiveStore
from vseq_resources.visits import read_visits_h5, visits_content_hash

from .conftest import Vseq
from .support import make_opsim_db, make_rewards_h5, opsim_visits

NIGHTS = ("2026-04-11", "2026-04-12", "2026-04-13")


def test_prenight_batch_script(cli_env: Vseq, tmp_path: Path, monkeypatch, request) -> None:  # noqa: ANN001
    vseq = cli_env
    completed_db = make_opsim_db(
        tmp_path / "completed_visits.db", nights=("2026-04-09", "2026-04-10"), seed=7
    )
    results = tmp_path / "opsim_results"
    results.mkdir()
    opsim = make_opsim_db(results / "opsim.db", nights=NIGHTS, per_night=30, seed=3)
    rewards = make_rewards_h5(results / "rewards.h5")
    label = "Nominal start and overhead, ideal conditions, run at 2026-04-11T14:02:11+00:00"

    completed = vseq.out(
        "record-visitseq-metadata",
        "completed",
        str(completed_db),
        "Consdb query through 2026-04-10",
        "--first_day_obs",
        "20250620",
        "--last_day_obs",
        "2026-04-10",
    )
    sim = vseq.out(
        "record-visitseq-metadata",
        "simulations",
        str(opsim),
        label,
        "--telescope",
        "simonyi",
        "--first_day_obs",
        "20260411",
        "--last_day_obs",
        "20260413",
    )
    assert uuid.UUID(sim) and uuid.UUID(completed)
    conda_hash = vseq.out("record-conda-env")
    for field, value in (
        ("scheduler_version", "4.6.0"),
        ("conda_env_sha256", conda_hash),
        ("config_url", "https://github.com/lsst-ts/ts_config_scheduler/blob/abc123/fbs_config.py"),
        ("parent_visitseq_uuid", completed),
        ("parent_last_day_obs", "2026-04-10"),
    ):
        assert vseq.out("update-visitseq-metadata", sim, field, value) == ""
    visits_url = vseq.out("archive-file", sim, str(opsim), "visits", "--archive-base", vseq.store)
    rewards_url = vseq.out("archive-file", sim, str(rewards), "rewards", "--archive-base", vseq.store)
    assert vseq.out("tag", sim, "prenight", "ideal", "nominal") == ""
    monkeypatch.chdir(tmp_path)
    assert "visits.h5" in vseq.out("get-file", sim, "visits", "visits.h5")
    stats = vseq.out("add-nightly-stats", sim, "visits.h5", "azimuth", "altitude")
    index_urls = [vseq.out("make-prenight-index", night.replace("-", ""), "simonyi") for night in NIGHTS]

    # -- the rows -------------------------------------------------------------------------------
    from vseq_resources.archive import VisitSequenceArchive
    from vseq_resources.config import ArchiveSettings

    archive = VisitSequenceArchive.open(ArchiveSettings.from_env())
    request.addfinalizer(archive.metadata.close)
    md = archive.metadata
    row = md.simulation_metadata(sim)
    assert row["visitseq_label"] == label
    assert row["telescope"] == "simonyi"
    assert str(row["first_day_obs"]) == "2026-04-11" and str(row["last_day_obs"]) == "2026-04-13"
    assert row["scheduler_version"] == "4.6.0"
    assert row["config_url"].endswith("fbs_config.py")
    assert str(row["parent_visitseq_uuid"]) == completed
    assert str(row["parent_last_day_obs"]) == "2026-04-10"
    assert bytes(row["conda_env_sha256"]).hex() == conda_hash
    assert row["visitseq_url"] == visits_url
    assert row["tags"] == ["ideal", "nominal", "prenight"]
    assert row["files"] == {"rewards": rewards_url}
    visits = opsim_visits(NIGHTS, per_night=30, seed=3)
    assert md.get_metadata(sim)["visitseq_sha256"] == visits_content_hash(visits)
    stored_stats = md.query_nightly_stats(sim)  # per-night rows, the only ones printed
    assert len(stored_stats) == len(NIGHTS) * 2 and not stored_stats["accumulated"].any()
    assert len(stats.splitlines()) == 1 + len(stored_stats)
    assert len(md.query_nightly_stats(sim, include_accumulated=True)) == len(NIGHTS) * 2 * 2
    completed_row = md.get_metadata(completed)
    assert completed_row["visitseq_url"] is None and str(completed_row["first_day_obs"]) == "2025-06-20"

    # -- the files ------------------------------------------------------------------------------
    creation_day = str(row["sim_creation_day_obs"])
    assert visits_url == f"{vseq.store}simonyi/{creation_day}/{sim}/visits.h5"
    stored = {entry.url for entry in ArchiveStore(vseq.store).walk_files()}
    assert stored == {visits_url, rewards_url}
    back = read_visits_h5(visits_url)
    pd.testing.assert_frame_equal(back, visits)
    assert ResourcePath(rewards_url).read() == rewards.read_bytes()

    # -- the index ------------------------------------------------------------------------------
    for night, url in zip(NIGHTS, index_urls, strict=True):
        year, month, _ = night.split("-")
        assert url == f"{vseq.index}simonyi/{year}/{int(month)}/simonyi_prenights_for_{night}.json"
        document = json.loads(ResourcePath(url).read())
        assert list(document) == [sim]
        entry = document[sim]
        assert entry["visitseq_label"] == label
        assert entry["conda_env_sha256"] == conda_hash
        assert entry["first_day_obs"] == "2026-04-11" and entry["last_day_obs"] == "2026-04-13"
        assert entry["parent_visitseq_uuid"] == completed
        assert entry["tags"] == ["ideal", "nominal", "prenight"]
        assert entry["files"] == {"rewards": rewards_url}
        assert entry["comments"] == {}
        assert entry["creation_time"].endswith("Z") and entry["creation_time"].startswith("20")
        assert set(entry["stats"]) == {"azimuth", "altitude"}
        azimuth = entry["stats"]["azimuth"]
        assert azimuth["count"] == 30
        night_visits = visits[[str(d) == night for d in _dayobs(visits)]]
        assert abs(azimuth["median"] - night_visits["azimuth"].median()) < 1e-9
        raw = ResourcePath(url).read().decode()
        assert raw.startswith('{\n    "')  # indent=4, as the reference writes it


def _dayobs(visits: pd.DataFrame) -> list:
    from vseq_resources.dayobs import dayobs_of_mjd

    return [dayobs_of_mjd(m) for m in visits["observationStartMJD"]]
