"""Pre-night simulations of a night: ``<telescope>/prenight_sims`` and ``<telescope>/prenight_metadata``.

For dayobs D (a :data:`~vseq_assets.partitions.prenight_partitions` key, which exists from the
start of D, i.e. during the afternoon before the night), one multi-asset step calls
:func:`vseq_resources.prenight.run_prenight`: the completed visits through D-1 are gathered from
the archive and pre-loaded once, each variant is simulated and archived as a ``simulations``
sequence, and a metadata-only ``mixedvisitseq`` joins the completed visits and the nominal run
(see that module for what is recorded). The step reports what was archived as materialization
metadata; two checks read the simulations back.

Simulations are runs, not facts: re-materializing a partition adds new sequences (readers pick
the newest). The step runs in the Dagster pool :data:`SIMULATION_POOL`, whose limit (1 by default,
set by ``vseq-nightly``; ``dagster instance concurrency set rubin_scheduler 1``) keeps a backfill
from running more simulations at once than the machine can hold.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset_check,
    multi_asset,
)

from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource
from vseq_resources.dayobs import dayobs_mjd_start, parse_dayobs
from vseq_resources.prenight import (
    APPROXIMATE_SKY_TAG,
    COMPLETED_CACHE_DIR,
    SIMULATIONS_TABLE,
    PrenightRun,
    run_prenight,
    simulation_tags,
)

from .keys import COMPLETED_METADATA, PRENIGHT_METADATA, PRENIGHT_SIMS, asset_key, group_name
from .partitions import prenight_partitions, previous_night
from .recorded import materialized_metadata
from .reporting import band_counts, preview_table

if TYPE_CHECKING:
    from vseq_resources.archive import VisitSequenceArchive

SIMULATION_POOL = "rubin_scheduler"
"""Dagster pool of the steps that run rubin_scheduler simulations (limit 1 on a small machine)."""
COMMENT_AUTHOR = "vseq-dagster"


# -- the assets --------------------------------------------------------------------------------


def _sims_metadata(run: PrenightRun) -> dict[str, Any]:
    sequences = {sim.variant: str(sim.sequence.uuid) for sim in run.simulations}
    metadata: dict[str, Any] = {
        "sequences": MetadataValue.json(sequences),
        "urls": MetadataValue.json({sim.variant: sim.sequence.visitseq_url for sim in run.simulations}),
        "visit_counts": MetadataValue.json({sim.variant: sim.sequence.n_visits for sim in run.simulations}),
        "bands": MetadataValue.json(
            {sim.variant: band_counts(sim.result.observations) for sim in run.simulations}
        ),
        "visit_count": MetadataValue.int(sum(sim.sequence.n_visits for sim in run.simulations)),
        "preloaded_visits": MetadataValue.int(run.preloaded.count),
        "preloaded_sources": MetadataValue.json(
            {"archive": run.preloaded.units_read, "local_cache": run.preloaded.units_cached}
        ),
        "seconds": MetadataValue.json({k: round(v, 1) for k, v in run.seconds.items()}),
    }
    nominal = run.nominal
    if nominal is not None:
        site = nominal.result.site_data
        metadata.update(
            {
                "nominal_uuid": MetadataValue.text(str(nominal.sequence.uuid)),
                "nominal_url": MetadataValue.url(nominal.sequence.visitseq_url or ""),
                "label": MetadataValue.text(nominal.sequence.label),
                "site_data_kind": MetadataValue.text(str(site.get("kind"))),
                "sky_model": MetadataValue.text(str(site.get("sky_model"))),
                "preview": preview_table(nominal.result.observations),
            }
        )
        files = nominal.sequence.files
        if files:
            metadata["nominal_files"] = MetadataValue.json(files)
    return metadata


def _metadata_metadata(run: PrenightRun) -> dict[str, Any]:
    first = run.simulations[0].result if run.simulations else None
    metadata: dict[str, Any] = {
        "sequences": MetadataValue.json({sim.variant: str(sim.sequence.uuid) for sim in run.simulations}),
        "table": MetadataValue.text(SIMULATIONS_TABLE),
        "labels": MetadataValue.json({sim.variant: sim.sequence.label for sim in run.simulations}),
        "tags": MetadataValue.json({sim.variant: simulation_tags(sim.result) for sim in run.simulations}),
        "parent_visitseq_uuid": MetadataValue.text(str(run.preloaded.parent_uuid or "")),
        "parent_last_day_obs": MetadataValue.text(
            run.preloaded.last_day_obs.isoformat() if run.preloaded.last_day_obs else ""
        ),
        "preloaded_mjd_max": MetadataValue.float(run.preloaded.last_mjd or 0.0),
        "conda_env_sha256": MetadataValue.text(run.conda_env_sha256.hex()),
    }
    if first is not None:
        metadata.update(
            {
                "first_day_obs": MetadataValue.text(first.first_day_obs.isoformat()),
                "last_day_obs": MetadataValue.text(first.last_day_obs.isoformat()),
                "scheduler_version": MetadataValue.text(first.scheduler_version),
                "config_url": MetadataValue.text(first.config_url),
                "site_data": MetadataValue.json(first.site_data),
            }
        )
    if run.mixed is not None:
        metadata["mixedvisitseq_uuid"] = MetadataValue.text(str(run.mixed.uuid))
    return metadata


def prenight_simulation_assets(telescope: str) -> AssetsDefinition:
    """The multi-asset that simulates and archives the coming night(s) of ``telescope``."""
    sims_key = asset_key(telescope, PRENIGHT_SIMS)
    metadata_key = asset_key(telescope, PRENIGHT_METADATA)
    completed_key = asset_key(telescope, COMPLETED_METADATA)

    @multi_asset(
        name=f"{telescope}_prenight_simulations",
        specs=[
            AssetSpec(
                sims_key,
                deps=[AssetDep(completed_key, partition_mapping=previous_night)],
                partitions_def=prenight_partitions,
                group_name=group_name(telescope),
                kinds={"hdf5"},
                description=(
                    f"The {telescope} pre-night simulations of the night (one per variant): visits.h5 "
                    "with every opsim table, rewards.h5 and the scheduler configuration, in the store. "
                    "Pre-loaded with the completed visits through the night before."
                ),
            ),
            AssetSpec(
                metadata_key,
                deps=[sims_key],
                partitions_def=prenight_partitions,
                group_name=group_name(telescope),
                kinds={"postgres"},
                description=(
                    f"The `simulations` rows of the night's {telescope} pre-night simulations (tags, "
                    "parent, configuration, package environment, nightly statistics) and the "
                    "metadata-only `mixedvisitseq` joining the completed visits and the nominal run."
                ),
            ),
        ],
        partitions_def=prenight_partitions,
        pool=SIMULATION_POOL,
    )
    def prenight_simulations(
        context: AssetExecutionContext, archive: ArchiveResource, prenight: PrenightSimulationResource
    ):
        night = parse_dayobs(context.partition_key)
        settings = archive.settings()
        plan = prenight.settings()
        run = run_prenight(
            archive.get_archive(),
            telescope,
            night,
            plan,
            site_data_dir=plan.site_data_path(settings.state_dir),
            completed_cache_dir=settings.state_dir / COMPLETED_CACHE_DIR,
            comment=f"simulated by Dagster run {context.run.run_id}",
            comment_author=COMMENT_AUTHOR,
            progress=context.log.info,
        )
        version = DataVersion(",".join(str(sim.sequence.uuid) for sim in run.simulations))
        yield MaterializeResult(asset_key=sims_key, metadata=_sims_metadata(run), data_version=version)
        yield MaterializeResult(
            asset_key=metadata_key, metadata=_metadata_metadata(run), data_version=version
        )

    return prenight_simulations


# -- checks ------------------------------------------------------------------------------------


def _checked_sequences(
    context: AssetCheckExecutionContext, archive: "VisitSequenceArchive", key: AssetKey, telescope: str
) -> tuple[dict[str, uuidlib.UUID], dict[str, Any]]:
    """Variant -> UUID of the partition's newest materialization, else the newest archived ones."""
    recorded = materialized_metadata(context, key)
    if recorded.get("sequences"):
        return {k: uuidlib.UUID(v) for k, v in recorded["sequences"].items()}, recorded
    night = parse_dayobs(context.partition_key)
    rows = archive.find_sequences(SIMULATIONS_TABLE, telescope=telescope, first_day_obs=night)
    newest: dict[str, uuidlib.UUID] = {}
    for row in rows:
        variant = (row.get("sim_runner_kwargs") or {}).get("variant", str(row["visitseq_uuid"]))
        newest.setdefault(variant, row["visitseq_uuid"])
    return newest, recorded


def simulations_read_back_check(telescope: str) -> AssetChecksDefinition:
    key = asset_key(telescope, PRENIGHT_SIMS)

    @asset_check(
        asset=key,
        name="simulations_read_back",
        partitions_def=prenight_partitions,
        description=(
            "Each archived simulation's visits.h5 reads back with its recorded count, checksums and tags."
        ),
    )
    def simulations_read_back(
        context: AssetCheckExecutionContext, archive: ArchiveResource
    ) -> AssetCheckResult:
        from vseq_resources.errors import InvalidInputError
        from vseq_resources.simulation.variants import variant_by_name
        from vseq_resources.visits import visits_content_hash

        vsa = archive.get_archive()
        sequences, recorded = _checked_sequences(context, vsa, key, telescope)
        if not sequences:
            return AssetCheckResult(passed=False, description="no pre-night simulations are recorded")
        counts = recorded.get("visit_counts") or {}
        problems = []
        read = {}
        for variant, seq_uuid in sequences.items():
            meta = vsa.get_metadata(seq_uuid, table=SIMULATIONS_TABLE)
            try:
                visits = vsa.get_visits(seq_uuid)  # checks the file's SHA-256 first
            except Exception as err:  # noqa: BLE001 - any failure to read back is what this check reports
                problems.append(f"{variant} ({seq_uuid}): cannot be read back: {err}")
                continue
            read[variant] = len(visits)
            if variant in counts and len(visits) != int(counts[variant]):
                problems.append(f"{variant}: {len(visits)} visits read back, {counts[variant]} recorded")
            if visits_content_hash(visits) != bytes(meta["visitseq_sha256"]):
                problems.append(f"{variant}: content hash differs from visitseq_sha256")
            tags = set(vsa.metadata.get_tags(seq_uuid))
            try:
                expected = set(variant_by_name(variant).tags)
            except InvalidInputError:
                expected = {"prenight"}
            if not expected <= tags:
                problems.append(f"{variant}: tags {sorted(tags)} lack {sorted(expected - tags)}")
            site = (meta.get("sim_runner_kwargs") or {}).get("site_data") or {}
            if "kind" not in site:
                problems.append(f"{variant}: sim_runner_kwargs do not say which site data were used")
            elif site["kind"] != "rubin_sim_data" and APPROXIMATE_SKY_TAG not in tags:
                problems.append(f"{variant}: approximate site data but no {APPROXIMATE_SKY_TAG} tag")
        metadata = {"visits_read": MetadataValue.json(read)}
        if problems:
            return AssetCheckResult(passed=False, description="; ".join(problems), metadata=metadata)
        return AssetCheckResult(
            passed=True, description="every simulation matches its record", metadata=metadata
        )

    return simulations_read_back


def simulated_after_preloaded_check(telescope: str) -> AssetChecksDefinition:
    key = asset_key(telescope, PRENIGHT_METADATA)

    @asset_check(
        asset=key,
        name="simulated_after_preloaded",
        partitions_def=prenight_partitions,
        description=(
            "The simulated visits start at or after the start of the night's dayobs and after the "
            "last pre-loaded completed visit; the parent is a night before."
        ),
    )
    def simulated_after_preloaded(
        context: AssetCheckExecutionContext, archive: ArchiveResource
    ) -> AssetCheckResult:
        vsa = archive.get_archive()
        night = parse_dayobs(context.partition_key)
        sequences, _ = _checked_sequences(context, vsa, key, telescope)
        if not sequences:
            return AssetCheckResult(passed=False, description="no pre-night simulations are recorded")
        night_start = dayobs_mjd_start(night)
        problems = []
        firsts = {}
        for variant, seq_uuid in sequences.items():
            meta = vsa.get_metadata(seq_uuid, table=SIMULATIONS_TABLE)
            if meta["first_day_obs"] != night:
                problems.append(f"{variant}: first_day_obs {meta['first_day_obs']} is not {night}")
            parent_last = meta.get("parent_last_day_obs")
            if parent_last is not None and parent_last >= night:
                problems.append(f"{variant}: parent_last_day_obs {parent_last} is not before {night}")
            preloaded = (meta.get("sim_runner_kwargs") or {}).get("preloaded") or {}
            visits = vsa.get_visits(seq_uuid)
            if not len(visits):
                continue
            first_mjd = float(visits["observationStartMJD"].min())
            firsts[variant] = first_mjd
            if first_mjd < night_start:
                problems.append(f"{variant}: first visit MJD {first_mjd:.5f} is before dayobs {night} starts")
            last_preloaded = preloaded.get("last_mjd")
            if last_preloaded is not None and first_mjd <= float(last_preloaded):
                problems.append(
                    f"{variant}: first visit MJD {first_mjd:.5f} is not after the last pre-loaded visit "
                    f"{float(last_preloaded):.5f}"
                )
        metadata = {"first_visit_mjd": MetadataValue.json(firsts)}
        if problems:
            return AssetCheckResult(passed=False, description="; ".join(problems), metadata=metadata)
        return AssetCheckResult(
            passed=True, description="the simulations follow the pre-loaded visits", metadata=metadata
        )

    return simulated_after_preloaded


def prenight_checks(telescope: str) -> list[AssetChecksDefinition]:
    return [simulations_read_back_check(telescope), simulated_after_preloaded_check(telescope)]
