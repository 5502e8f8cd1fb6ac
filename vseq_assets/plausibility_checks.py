"""Warnings when a night does not look as expected: ``night_plausibility`` checks.

For each telescope, one check on ``<telescope>/prenight_sims`` (every variant's simulated nights)
and one on ``<telescope>/completed_visits`` (the night the observatory observed). Each reads the
archived visits and hands them to :mod:`vseq_resources.plausibility`, which measures the night
and judges it against the telescope's ranges (Simonyi: published LSST baseline statistics;
AuxTel, which has no published baseline: ranges derived from vseq's simulated AuxTel nights, and
the check's metadata says so); the check reports every number in its metadata (the nominal
simulation's first night, and the completed night, as plain floats so the Dagster UI plots them
across partitions) and fails with WARN severity: an implausible night is worth a look, not a
reason to stop the pipeline.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of check functions when they are defined.

import uuid as uuidlib
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from vseq_resources.dagster_resources import ArchiveResource
from vseq_resources.dayobs import parse_dayobs
from vseq_resources.plausibility import THRESHOLD_BASIS

from .keys import COMPLETED_VISITS, PRENIGHT_SIMS, asset_key
from .partitions import completed_partitions, prenight_partitions
from .recorded import materialized_metadata

CHECK_NAME = "night_plausibility"
PLAUSIBILITY_TELESCOPES = ("simonyi", "auxtel")
PLOTTED_NUMBERS = (
    "visits_per_dark_hour",
    "same_pointing_run",
    "band_changes",
    "median_airmass",
    "median_slew",
    "night_used",
    "dark_blue_share",
    "bright_u_share",
    "bright_red_share",
)


def _result(assessed: dict[str, list], plotted: Any) -> AssetCheckResult:
    """WARN unless every night passed; metadata: every night's numbers, the plotted ones flat."""
    summaries = [night.summary() for nights in assessed.values() for night in nights if not night.passed]
    metadata: dict[str, Any] = {
        "nights": MetadataValue.json(
            {name: [night.as_dict() for night in nights] for name, nights in assessed.items()}
        ),
    }
    if plotted is not None:
        for name in PLOTTED_NUMBERS:
            value = plotted.numbers.get(name)
            if value is not None:
                metadata[name] = MetadataValue.float(float(value))
    bases = sorted({night.as_dict()["basis"] for nights in assessed.values() for night in nights})
    if bases:
        metadata["thresholds_basis"] = MetadataValue.text("; ".join(bases))
    judged = sum(len(nights) for nights in assessed.values())
    return AssetCheckResult(
        passed=not summaries,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(summaries) if summaries else f"{judged} night(s) plausible",
        metadata=metadata,
    )


def prenight_plausibility_check(telescope: str) -> AssetChecksDefinition:
    key = asset_key(telescope, PRENIGHT_SIMS)

    @asset_check(
        asset=key,
        name=CHECK_NAME,
        partitions_def=prenight_partitions,
        description=(
            "Every simulated night of every variant looks as expected: visits per dark hour, "
            "longest same-pointing run, band changes, median airmass and slew, night used, band "
            f"mix against the moon, against {THRESHOLD_BASIS[telescope]} ranges "
            "(vseq_resources.plausibility). Warns otherwise."
        ),
    )
    def night_plausibility(context: AssetCheckExecutionContext, archive: ArchiveResource) -> AssetCheckResult:
        from vseq_resources.plausibility import assess_nights

        vsa = archive.get_archive()
        recorded = materialized_metadata(context, key)
        sequences = {k: uuidlib.UUID(v) for k, v in (recorded.get("sequences") or {}).items()}
        if not sequences:
            night = parse_dayobs(context.partition_key)
            for row in vsa.find_sequences("simulations", telescope=telescope, first_day_obs=night):
                variant = (row.get("sim_runner_kwargs") or {}).get("variant", str(row["visitseq_uuid"]))
                sequences.setdefault(variant, row["visitseq_uuid"])
        if not sequences:
            return AssetCheckResult(
                passed=False, severity=AssetCheckSeverity.WARN, description="no pre-night simulations"
            )
        assessed = {}
        for variant, seq_uuid in sequences.items():
            kwargs = vsa.get_metadata(seq_uuid, table="simulations").get("sim_runner_kwargs") or {}
            start = kwargs.get("sim_start_mjd")
            visits = vsa.get_visits(seq_uuid)
            assessed[variant] = assess_nights(visits, observing_start_mjd=start, telescope=telescope)
        nominal = assessed.get("nominal") or next(iter(assessed.values()))
        return _result(assessed, nominal[0] if nominal else None)

    return night_plausibility


def completed_plausibility_check(telescope: str) -> AssetChecksDefinition:
    key = asset_key(telescope, COMPLETED_VISITS)

    @asset_check(
        asset=key,
        name=CHECK_NAME,
        partitions_def=completed_partitions,
        description=(
            f"The completed night looks as expected against {THRESHOLD_BASIS[telescope]} ranges "
            "(vseq_resources.plausibility); warns otherwise (weather, faults and engineering time "
            "also make a night implausible)."
        ),
    )
    def night_plausibility(context: AssetCheckExecutionContext, archive: ArchiveResource) -> AssetCheckResult:
        from vseq_resources.plausibility import assess_night

        night = parse_dayobs(context.partition_key)
        vsa = archive.get_archive()
        recorded = materialized_metadata(context, key)
        if recorded.get("uuid"):
            seq_uuid = uuidlib.UUID(str(recorded["uuid"]))
        else:
            newest = vsa.metadata.newest_completed(telescope, night)
            if newest is None:
                return AssetCheckResult(
                    passed=False,
                    severity=AssetCheckSeverity.WARN,
                    description=f"no completed {telescope} sequence with stored visits covers {night}",
                )
            seq_uuid = newest["visitseq_uuid"]
        visits = vsa.get_visits(seq_uuid, nights=[night])
        if len(visits) == 0:
            return AssetCheckResult(
                passed=True, severity=AssetCheckSeverity.WARN, description=f"{night}: no visits to judge"
            )
        assessed = assess_night(visits, night, telescope=telescope)
        return _result({"completed": [assessed]}, assessed)

    return night_plausibility


def plausibility_checks() -> list[AssetChecksDefinition]:
    """The checks of every telescope (:data:`PLAUSIBILITY_TELESCOPES`)."""
    checks = []
    for telescope in PLAUSIBILITY_TELESCOPES:
        checks += [prenight_plausibility_check(telescope), completed_plausibility_check(telescope)]
    return checks
