"""The night review through the real pipeline, over two nights, on a real Dagster instance.

Each night's pre-night job (rubin_scheduler, half an hour of the nominal and delay_30 variants) runs
the afternoon before, as its schedule would; the night then happens as one of those variants
(NIGHT_1 as planned, NIGHT_2 with its start delayed by 30 minutes), and the local ConsDB (the
official schema in PostgreSQL, :mod:`vseq_resources.consdb.local`) records those visits; then the
completed job runs (ConsDB -> archive -> checks -> review). NIGHT_2's simulation is pre-loaded
with NIGHT_1's completed visits. The review's numbers are checked against counts computed here from the two
visits tables, NIGHT_2 is recognised as a delayed start, and a backfill of the reviews over four
nights (two of them without a pre-night simulation, one of them with no visits) re-runs them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, materialize

from vseq_assets.completed import completed_sequence_assets
from vseq_assets.consdb import consdb_visits_asset
from vseq_assets.night_review import night_review_asset
from vseq_assets.prenight import prenight_simulation_assets
from vseq_assets.prenight_index import prenight_index_asset
from vseq_resources.consdb import empty_opsim_visits
from vseq_resources.consdb.local import fill_nights
from vseq_resources.dagster_resources import (
    ArchiveResource,
    PrenightSimulationResource,
    SqlConsDBResource,
    VseqArchiveIOManager,
)
from vseq_resources.readers import ArchiveReader, load_partition
from vseq_tests.assets.helpers import index_resource, materialized, use_archive_from_environment
from vseq_tests.resources.consdb.synthetic import synthetic_night

NIGHT_0 = dt.date(2025, 11, 2)  # completed (synthetic visits), no pre-night simulation
NIGHT_1 = dt.date(2025, 11, 3)  # completed as planned
NIGHT_2 = dt.date(2025, 11, 4)  # completed with a 30-minute late start
NIGHT_3 = dt.date(2025, 11, 5)  # nothing observed, no pre-night simulation
HOURS = 0.5
DELAY = "delay_30"
OBSERVED_AS = {NIGHT_1: "nominal", NIGHT_2: DELAY}
"""The variant of the night's own pre-night run that the night then followed (ConsDB gets its visits)."""


pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def pipeline(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Everything run once: ConsDB nights, pre-night and completed jobs, reviews."""
    import uuid

    tmp = tmp_path_factory.mktemp("night_review")
    schema = f"review_{uuid.uuid4().hex[:8]}"
    name = f"consdb_review_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    consdb_url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(consdb_url)
    site = tmp / "site_data"
    archive = ArchiveResource(
        database_url=pg_url,
        db_schema=schema,
        archive_uri=(tmp / "archive").as_uri() + "/",
        state_dir=str(tmp / "state"),
        migrate=True,
    )
    archive = index_resource(archive, tmp)
    try:
        fill_nights(engine, "lsstcam", synthetic_night(NIGHT_0.isoformat(), 60, seed=3))
        # NIGHT_3 is ingested with no visit (weather): its daily calibrations only.
        fill_nights(engine, "lsstcam", empty_opsim_visits(0), nights=[NIGHT_3])
        resources = {
            "archive": archive,
            "consdb": SqlConsDBResource(url=consdb_url),
            "vseq_archive": VseqArchiveIOManager(archive=archive),
            "prenight": PrenightSimulationResource(
                nights=1, duration_hours=HOURS, variants=["nominal", DELAY], site_data_dir=str(site)
            ),
        }
        assets = [
            consdb_visits_asset("simonyi"),
            completed_sequence_assets("simonyi"),
            night_review_asset("simonyi"),
            prenight_simulation_assets("simonyi"),
            prenight_index_asset("simonyi"),
        ]
        completed = [
            AssetKey(["simonyi", name])
            for name in ("consdb_visits", "completed_visits", "completed_metadata", "night_review")
        ]
        prenight = [
            AssetKey(["simonyi", name]) for name in ("prenight_sims", "prenight_metadata", "prenight_index")
        ]
        review = [AssetKey(["simonyi", "night_review"])]
        runs: dict = {}

        def run(night: dt.date, selection: list[AssetKey], instance: DagsterInstance):
            return materialize(
                assets,
                selection=selection,
                partition_key=night.isoformat(),
                resources=resources,
                instance=instance,
            )

        (tmp / "dagster").mkdir()
        with DagsterInstance.local_temp(tempdir=str(tmp / "dagster")) as instance:
            for night in (NIGHT_0, NIGHT_1, NIGHT_2, NIGHT_3):
                if night in OBSERVED_AS:
                    runs["prenight", night] = run(night, prenight, instance)
                    # The night then happens as one of its variants did; ConsDB records it.
                    sims = materialized(runs["prenight", night], "simonyi", "prenight_sims")
                    vsa = archive.open()
                    try:
                        fill_nights(engine, "lsstcam", vsa.get_visits(sims["sequences"][OBSERVED_AS[night]]))
                    finally:
                        vsa.metadata.close()
                runs["completed", night] = run(night, completed, instance)
            # A backfill of the reviews alone, over every night, reads everything from the archive.
            backfill = {night: run(night, review, instance) for night in (NIGHT_0, NIGHT_1, NIGHT_2, NIGHT_3)}
            reviewed = instance.get_materialized_partitions(review[0])
        yield {"runs": runs, "backfill": backfill, "reviewed": reviewed, "archive": archive}
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _tables(archive: ArchiveResource, night: dt.date, sims_md: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two visits tables of a night, read here: the completed night and the nominal simulation."""
    vsa = archive.open()
    try:
        completed = vsa.metadata.newest_completed("simonyi", night)
        observed = vsa.get_visits(completed["visitseq_uuid"])
        planned = vsa.get_visits(sims_md["sequences"]["nominal"])
    finally:
        vsa.metadata.close()
    return observed, planned


def _hour_counts(frame: pd.DataFrame) -> dict[str, int]:
    hours = pd.to_datetime((frame["observationStartMJD"] - 40587.0) * 86400.0, unit="s", utc=True)
    return hours.dt.strftime("%H:00").value_counts().to_dict()


def _greedy_matches(planned: pd.DataFrame, observed: pd.DataFrame, radius: float) -> list[float]:
    """The matching rule written out with loops: offsets (min) of the pairs made."""
    from astropy.coordinates import SkyCoord

    p = SkyCoord(planned["fieldRA"].to_numpy(), planned["fieldDec"].to_numpy(), unit="deg")
    o = SkyCoord(observed["fieldRA"].to_numpy(), observed["fieldDec"].to_numpy(), unit="deg")
    candidates = []
    for i in range(len(planned)):
        sep = p[i].separation(o).deg
        for j in np.nonzero(sep <= radius)[0]:
            if planned["band"].iloc[i] == observed["band"].iloc[j]:
                delta = observed["observationStartMJD"].iloc[j] - planned["observationStartMJD"].iloc[i]
                candidates.append((abs(delta), i, int(j), delta * 1440.0))
    used_p, used_o, offsets = set(), set(), []
    for _, i, j, offset in sorted(candidates):
        if i not in used_p and j not in used_o:
            used_p.add(i)
            used_o.add(j)
            offsets.append(offset)
    return offsets


def test_runs_succeed_and_every_night_is_reviewed(pipeline: dict) -> None:
    assert all(result.success for result in pipeline["runs"].values())
    assert all(result.success for result in pipeline["backfill"].values())
    assert set(pipeline["reviewed"]) == {n.isoformat() for n in (NIGHT_0, NIGHT_1, NIGHT_2, NIGHT_3)}


@pytest.mark.parametrize("night", [NIGHT_1, NIGHT_2], ids=str)
def test_numbers_match_the_visits_tables(pipeline: dict, night: dt.date) -> None:
    review = materialized(pipeline["runs"]["completed", night], "simonyi", "night_review")
    sims = materialized(pipeline["runs"]["prenight", night], "simonyi", "prenight_sims")
    observed, planned = _tables(pipeline["archive"], night, sims)
    assert len(observed) > 20 and len(planned) > 20
    assert review["observed_visits"] == len(observed)
    assert review["planned_visits"] == len(planned)
    assert sims["sequences"]["nominal"] in review["simulation"]
    # Simulated now for a night of 2025: a re-simulation of the past, and named so.
    assert "(re-simulation, made after the night)" in review["simulation"]
    assert review["best_variant"] in ("nominal", DELAY)
    bands_md = review["bands"]
    for band, count in observed["band"].value_counts().items():
        assert f"| {band} | {(planned['band'] == band).sum()} | {count} |" in bands_md
    hours_md = review["hours"]
    p_hours, o_hours = _hour_counts(planned), _hour_counts(observed)
    for hour in set(p_hours) | set(o_hours):
        assert f"| {hour} | {p_hours.get(hour, 0)} | {o_hours.get(hour, 0)} |" in hours_md
    start = (observed["observationStartMJD"].min() - planned["observationStartMJD"].min()) * 1440.0
    assert review["timing"]["start_offset_minutes"] == pytest.approx(start, abs=0.06)
    offsets = _greedy_matches(planned, observed, 1.75)
    matching = review["matching"]
    assert matching["matched"] == len(offsets)
    if offsets:
        assert matching["median_offset_minutes"] == pytest.approx(float(np.median(offsets)), abs=0.06)
    assert (
        review["completed_uuid"]
        == materialized(pipeline["runs"]["completed", night], "simonyi", "completed_visits")["uuid"]
    )
    assert {"timeline_url", "hours_url", "drift_url"} <= set(review)
    vsa = pipeline["archive"].open()
    try:
        files = vsa.metadata.get_files(review["completed_uuid"])
    finally:
        vsa.metadata.close()
    assert {"review_timeline", "review_hours", "review_drift"} <= set(files)


def test_delayed_start_is_recognised(pipeline: dict) -> None:
    on_time = materialized(pipeline["runs"]["completed", NIGHT_1], "simonyi", "night_review")
    late = materialized(pipeline["runs"]["completed", NIGHT_2], "simonyi", "night_review")
    assert on_time["best_variant"] == "nominal"
    assert "started on time" in on_time["verdict"]
    assert late["best_variant"] == DELAY
    assert late["timing"]["start_offset_minutes"] == pytest.approx(30.0, abs=3.0)
    assert f"min late (best explained by {DELAY})" in late["verdict"]
    assert late["verdict"].startswith(f"Night {NIGHT_2}, simonyi: {late['observed_visits']} of ")


def test_edge_cases_and_the_loader(pipeline: dict) -> None:
    no_plan = materialized(pipeline["backfill"][NIGHT_0], "simonyi", "night_review")
    assert no_plan["status"] == "no_plan" and no_plan["observed_visits"] == 60
    assert no_plan["verdict"].endswith(f"no pre-night simulation of {NIGHT_0} to compare with")
    empty = materialized(pipeline["backfill"][NIGHT_3], "simonyi", "night_review")
    assert empty["observed_visits"] == 0
    assert empty["verdict"] == (
        f"Night {NIGHT_3}, simonyi: no visits observed, and no pre-night simulation of {NIGHT_3} "
        "to compare with"
    )
    # The backfill's review of a night equals the completed run's, and the partition loader's.
    again = materialized(pipeline["backfill"][NIGHT_2], "simonyi", "night_review")
    first = materialized(pipeline["runs"]["completed", NIGHT_2], "simonyi", "night_review")
    assert again["verdict"] == first["verdict"]
    with ArchiveReader.from_settings(pipeline["archive"].settings()) as reader:
        loaded = load_partition("simonyi/night_review", NIGHT_2, reader=reader)
    assert loaded.verdict == first["verdict"]
    assert loaded.plan_uuid in first["simulation"]


def test_the_shell_command_prints_the_review(pipeline: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from vseq_resources.cli import cli

    settings = pipeline["archive"].settings()
    use_archive_from_environment(monkeypatch, settings)
    first = materialized(pipeline["runs"]["completed", NIGHT_2], "simonyi", "night_review")
    result = CliRunner().invoke(cli, ["night-review", "--telescope", "simonyi", NIGHT_2.strftime("%Y%m%d")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == first["verdict"]
    assert any(line.startswith("  figure    timeline: ") for line in lines)
    as_json = CliRunner().invoke(cli, ["night-review", NIGHT_2.isoformat(), "--json"])
    numbers = json.loads(as_json.stdout)
    assert numbers["best_variant"] == DELAY and numbers["observed_visits"] == first["observed_visits"]
    missing = CliRunner().invoke(cli, ["night-review", "2025-11-20"])
    assert missing.exit_code == 1
    assert "no completed simonyi sequence with stored visits covers 2025-11-20" in missing.stderr
