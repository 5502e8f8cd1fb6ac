"""The ``night_plausibility`` checks through Dagster: WARN on a broken night, pass on a good one.

The checked assets are stood in for by small assets with the same keys and partitions that
record a synthetic night through the archive's API and report what the real assets report
(``uuid``; ``sequences``), so the checks run exactly as in the pipeline, against real
PostgreSQL and a real store, on nights built to be plausible or broken in a known way.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from dagster import AssetCheckSeverity, MaterializeResult, MetadataValue, asset, materialize

from vseq_assets.completed import archive_completed_night
from vseq_assets.keys import COMPLETED_VISITS, PRENIGHT_SIMS, asset_key
from vseq_assets.partitions import completed_partitions, prenight_partitions
from vseq_assets.plausibility_checks import completed_plausibility_check, prenight_plausibility_check
from vseq_resources.dagster_resources import ArchiveResource
from vseq_tests.assets.helpers import check_results
from vseq_tests.resources import plausible_nights as nights

NIGHT = dt.date(2026, 11, 10)


def _completed_stand_in(visits: pd.DataFrame, telescope: str = "simonyi"):
    @asset(key=asset_key(telescope, COMPLETED_VISITS), partitions_def=completed_partitions)
    def completed_visits(archive: ArchiveResource) -> MaterializeResult:
        vsa = archive.get_archive()
        night = archive_completed_night(vsa, telescope, NIGHT, visits, query="-- synthetic")
        return MaterializeResult(metadata={"uuid": MetadataValue.text(str(night.uuid))})

    return completed_visits


def _prenight_stand_in(variants: dict[str, pd.DataFrame]):
    @asset(key=asset_key("simonyi", PRENIGHT_SIMS), partitions_def=prenight_partitions)
    def prenight_sims(archive: ArchiveResource) -> MaterializeResult:
        vsa = archive.get_archive()
        sequences = {}
        for variant, frame in variants.items():
            start = float(frame["observationStartMJD"].min())
            sequences[variant] = str(
                vsa.record_sequence(
                    "simulations",
                    frame,
                    label=f"synthetic {variant}",
                    telescope="simonyi",
                    first_day_obs=NIGHT,
                    last_day_obs=NIGHT,
                    tags=["prenight", variant],
                    sim_runner_kwargs={"variant": variant, "sim_start_mjd": start},
                ).uuid
            )
        return MaterializeResult(metadata={"sequences": MetadataValue.json(sequences)})

    return prenight_sims


@pytest.mark.parametrize("broken", [False, True])
def test_completed_night_check(archive_resource: ArchiveResource, broken: bool) -> None:
    visits = nights.baseline_like_night(NIGHT)
    if broken:
        visits = nights.broken_repeats(visits, length=41)
    result = materialize(
        [_completed_stand_in(visits), completed_plausibility_check("simonyi")],
        partition_key=NIGHT.isoformat(),
        resources={"archive": archive_resource},
    )
    evaluation = check_results(result)["night_plausibility"]
    assert evaluation.passed is (not broken)
    assert evaluation.severity == AssetCheckSeverity.WARN
    metadata = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    assert metadata["same_pointing_run"] == (41 if broken else 1)
    assert metadata["median_airmass"] == pytest.approx(1.2)
    if broken:
        assert "same_pointing_run 41" in evaluation.description


def test_prenight_check_judges_every_variant(archive_resource: ArchiveResource) -> None:
    good = nights.baseline_like_night(NIGHT)
    variants = {"nominal": good, "delay_60": nights.broken_slews(good)}
    result = materialize(
        [_prenight_stand_in(variants), prenight_plausibility_check("simonyi")],
        partition_key=NIGHT.isoformat(),
        resources={"archive": archive_resource},
    )
    evaluation = check_results(result)["night_plausibility"]
    assert evaluation.passed is False
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert "median_slew 30" in evaluation.description
    judged = evaluation.metadata["nights"].value
    assert set(judged) == {"nominal", "delay_60"}
    assert judged["nominal"][0]["passed"] is True
    assert judged["delay_60"][0]["passed"] is False
    assert evaluation.metadata["median_slew"].value == pytest.approx(5.0)  # the nominal run's


@pytest.mark.parametrize("broken", [False, True])
def test_auxtel_completed_night_is_checked_against_its_own_ranges(
    archive_resource: ArchiveResource, broken: bool
) -> None:
    """AuxTel's 3-hour night passes against AuxTel's ranges (Simonyi's would fail it: see
    ``test_plausibility.py``) and warns when broken; the metadata says where the ranges come from."""
    visits = nights.auxtel_like_night(NIGHT)
    if broken:
        visits = nights.broken_airmass(visits)
    result = materialize(
        [_completed_stand_in(visits, "auxtel"), completed_plausibility_check("auxtel")],
        partition_key=NIGHT.isoformat(),
        resources={"archive": archive_resource},
    )
    evaluation = check_results(result)["night_plausibility"]
    assert evaluation.passed is (not broken), evaluation.description
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert "no published baseline" in evaluation.metadata["thresholds_basis"].value
    if broken:
        assert "median_airmass 1.8" in evaluation.description
