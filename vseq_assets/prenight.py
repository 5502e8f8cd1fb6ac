"""Pre-night simulations of a night: ``<telescope>/prenight_sims`` and ``<telescope>/prenight_metadata``.

For dayobs D (a :data:`~vseq_assets.partitions.prenight_partitions` key, which exists from the
start of D, i.e. during the afternoon before the night), one multi-asset step calls
:func:`vseq_resources.prenight.run_prenight`: the completed visits through D-1 are gathered from
the archive and pre-loaded once, each variant is simulated and archived as a ``simulations``
sequence, and a metadata-only ``mixedvisitseq`` joins the completed visits and the nominal run
(see that module for what is recorded). The step reports what was archived as materialization
metadata, then checks it itself (``check_specs``, both blocking): each simulation reads back
(``simulations_read_back``) and starts after the pre-loaded visits (``simulated_after_preloaded``).
A simulation that fails is marked ``check_failed`` in the archive, so it is never indexed, briefed
or read as the night's simulation, and the step fails, so the index and briefing of that run do
not run.

Re-materializing a partition with the same inputs reuses the archived simulations (the metadata
says "reused <uuid>" per variant); run configuration ``resimulate: true`` simulates again. A
backfill of a night that has already begun archives re-simulations of the past, which no reader
takes for a later night's prediction (:mod:`vseq_resources.prenight_runs`). The step runs in
the Dagster pool :data:`SIMULATION_POOL`, whose limit (1 by default, set by ``vseq-nightly``;
``dagster instance concurrency set rubin_scheduler 1``) keeps a backfill from running more
simulations at once than the machine can hold.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource
from vseq_resources.dayobs import parse_dayobs
from vseq_resources.metadata.annotations import CHECK_FAILED_TAG
from vseq_resources.prenight import (
    COMPLETED_CACHE_DIR,
    SIMULATIONS_TABLE,
    PrenightRun,
    run_prenight,
)
from vseq_resources.prenight_checks import order_problems, read_back_problems
from vseq_resources.prenight_runs import RESIMULATION_TAG

from .keys import COMPLETED_METADATA, PRENIGHT_METADATA, PRENIGHT_SIMS, asset_key, group_name
from .logs import library_logs
from .partitions import prenight_partitions, previous_night
from .reporting import band_counts, preview_table, store_link
from .run_tags import tag_run

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
        "bands": MetadataValue.json({sim.variant: band_counts(sim.observations) for sim in run.simulations}),
        "outcome": MetadataValue.json(
            {sim.variant: f"reused {sim.sequence.uuid}" if sim.reused else "added" for sim in run.simulations}
        ),
        "added_count": MetadataValue.int(len(run.added)),
        "resimulations": MetadataValue.json(
            [sim.variant for sim in run.simulations if RESIMULATION_TAG in sim.tags]
        ),
        "reused_count": MetadataValue.int(len(run.reused)),
        "prenight_run": MetadataValue.text(run.run_id),
        "visit_count": MetadataValue.int(sum(sim.sequence.n_visits for sim in run.simulations)),
        "preloaded_visits": MetadataValue.int(run.preloaded.count),
        "preloaded_nights": MetadataValue.int(len(run.preloaded.sequences)),
        "preloaded_empty_nights": MetadataValue.json([n.isoformat() for n in run.preloaded.empty_nights]),
        "preloaded_sources": MetadataValue.json(
            {"archive": run.preloaded.units_read, "local_cache": run.preloaded.units_cached}
        ),
        "seconds": MetadataValue.json({k: round(v, 1) for k, v in run.seconds.items()}),
    }
    nominal = run.nominal
    if nominal is not None:
        site = nominal.site_data
        metadata.update(
            {
                "nominal_uuid": MetadataValue.text(str(nominal.sequence.uuid)),
                "nominal_url": store_link(nominal.sequence.visitseq_url),
                "label": MetadataValue.text(nominal.sequence.label),
                "site_data_kind": MetadataValue.text(str(site.get("kind"))),
                "sky_model": MetadataValue.text(str(site.get("sky_model"))),
                "preview": preview_table(nominal.observations),
            }
        )
        files = nominal.sequence.files
        if files:
            metadata["nominal_files"] = MetadataValue.json(files)
    return metadata


def _metadata_metadata(run: PrenightRun) -> dict[str, Any]:
    first = run.simulations[0] if run.simulations else None
    metadata: dict[str, Any] = {
        "sequences": MetadataValue.json({sim.variant: str(sim.sequence.uuid) for sim in run.simulations}),
        "table": MetadataValue.text(SIMULATIONS_TABLE),
        "labels": MetadataValue.json({sim.variant: sim.sequence.label for sim in run.simulations}),
        "tags": MetadataValue.json({sim.variant: sim.tags for sim in run.simulations}),
        "parent_visitseq_uuid": MetadataValue.text(str(run.preloaded.parent_uuid or "")),
        "parent_last_day_obs": MetadataValue.text(
            run.preloaded.last_day_obs.isoformat() if run.preloaded.last_day_obs else ""
        ),
        "preloaded_mjd_max": MetadataValue.float(run.preloaded.last_mjd or 0.0),
        "conda_env_sha256": MetadataValue.text(run.conda_env_sha256.hex()),
        "scheduler_version": MetadataValue.text(run.scheduler_version),
        "config_url": MetadataValue.text(run.config_url),
        "prenight_run": MetadataValue.text(run.run_id),
    }
    if first is not None:
        metadata.update(
            {
                "first_day_obs": MetadataValue.text(first.sequence.first_day_obs.isoformat()),
                "last_day_obs": MetadataValue.text(first.sequence.last_day_obs.isoformat()),
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
        check_specs=prenight_check_specs(telescope),
        partitions_def=prenight_partitions,
        pool=SIMULATION_POOL,
    )
    def prenight_simulations(
        context: AssetExecutionContext, archive: ArchiveResource, prenight: PrenightSimulationResource
    ):
        tag_run(context, telescope, "prenight")
        night = parse_dayobs(context.partition_key)
        settings = archive.settings()
        plan = prenight.settings()
        # rubin_scheduler's output, once per distinct message with its count, in the step's log
        with library_logs(context):
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
        vsa = archive.get_archive()
        checks, failed = prenight_check_results(vsa, telescope, run)
        for seq_uuid, failures in failed.items():
            # Never indexed, briefed or read as the night's simulation (the step fails below).
            vsa.metadata.mark_check_failed(seq_uuid, failures, COMMENT_AUTHOR)
            context.log.error(
                "simulation %s failed %s: marked %s", seq_uuid, ", ".join(failures), CHECK_FAILED_TAG
            )
        version = DataVersion(",".join(str(sim.sequence.uuid) for sim in run.simulations))
        yield MaterializeResult(asset_key=sims_key, metadata=_sims_metadata(run), data_version=version)
        yield MaterializeResult(
            asset_key=metadata_key, metadata=_metadata_metadata(run), data_version=version
        )
        yield from checks

    return prenight_simulations


# -- checks ----------------------------------------------------------------------------------

READ_BACK_CHECK = "simulations_read_back"
ORDER_CHECK = "simulated_after_preloaded"


def prenight_check_specs(telescope: str) -> list[AssetCheckSpec]:
    """The checks the pre-night step evaluates on what it archived; both block."""
    return [
        AssetCheckSpec(
            READ_BACK_CHECK,
            asset=asset_key(telescope, PRENIGHT_SIMS),
            blocking=True,
            description=(
                "Each archived simulation's visits.h5 reads back with its recorded count, checksums and tags."
            ),
        ),
        AssetCheckSpec(
            ORDER_CHECK,
            asset=asset_key(telescope, PRENIGHT_METADATA),
            blocking=True,
            description=(
                "The simulated visits start at or after the start of the night's dayobs and after the "
                "last pre-loaded completed visit; the parent is a night before."
            ),
        ),
    ]


def prenight_check_results(
    vsa: "VisitSequenceArchive", telescope: str, run: PrenightRun
) -> tuple[list[AssetCheckResult], dict[uuidlib.UUID, dict[str, str]]]:
    """The checks' results, and sequence -> {check: what failed} of every simulation that failed."""
    sequences = {sim.variant: sim.sequence.uuid for sim in run.simulations}
    counts = {sim.variant: sim.sequence.n_visits for sim in run.simulations}
    read_back, read = read_back_problems(vsa, sequences, counts)
    # Where a simulation starts is only asked of those that read back.
    readable = {v: u for v, u in sequences.items() if not read_back[v]}
    order, firsts = order_problems(vsa, run.day_obs, readable)
    failed: dict[uuidlib.UUID, dict[str, str]] = {}
    for name, found in ((READ_BACK_CHECK, read_back), (ORDER_CHECK, order)):
        for variant, problems in found.items():
            if problems:
                failed.setdefault(sequences[variant], {})[name] = "; ".join(problems)
    none = ["no pre-night simulations were archived"] if not sequences else []
    results = [
        _result(
            asset_key(telescope, PRENIGHT_SIMS),
            READ_BACK_CHECK,
            none + [p for problems in read_back.values() for p in problems],
            "every simulation matches its record",
            {"visits_read": MetadataValue.json(read)},
        ),
        _result(
            asset_key(telescope, PRENIGHT_METADATA),
            ORDER_CHECK,
            none + [p for problems in order.values() for p in problems],
            "the simulations follow the pre-loaded visits",
            {"first_visit_mjd": MetadataValue.json(firsts)},
        ),
    ]
    return results, failed


def _result(
    key: AssetKey, name: str, problems: list[str], passed: str, metadata: dict[str, Any]
) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=not problems,
        description="; ".join(problems) if problems else passed,
        metadata=metadata,
    )
