"""Pre-night simulations of a night: ``<telescope>/prenight_sims`` and ``<telescope>/prenight_metadata``.

For dayobs D (a :data:`~vseq_assets.partitions.prenight_partitions` key, which exists from the
start of D, i.e. during the afternoon before the night):

1. the completed visits through D-1 are gathered from the archive: for each night of the
   look-back window (every archived night by default, or the last ``lookback_nights``), the
   newest ``completed`` sequence with stored visits covering it
   (:meth:`~vseq_resources.archive.VisitSequenceArchive.latest_completed_by_night`), concatenated
   (:mod:`vseq_resources.completed_history`: what was read is kept in a local cache under the
   state directory, so each day reads only the new night from the archive). The newest of them
   is the simulations' ``parent_visitseq_uuid``, its night ``parent_last_day_obs``; every
   sequence used is listed in ``sim_runner_kwargs["preloaded"]``;
2. the scheduler configuration (resource ``prenight``: a file, URL or ``module:function``) is
   built and the completed visits pre-loaded into it ONCE; each variant (nominal, delayed start,
   degraded seeing, ...) then simulates ``nights`` nights from D on a deep copy of that
   pre-loaded scheduler (:func:`vseq_resources.simulation.run_simulations`);
3. each run is archived at once as a ``simulations`` sequence: ``visits.h5`` with every table of
   the opsim output, ``rewards.h5`` (when recorded), ``scheduler_config.py`` (the configuration
   text), the package environment (``conda_env_sha256``), ``scheduler_version``, ``config_url``,
   JSON-safe ``sim_runner_kwargs`` (including the site data used), the production-style label,
   the variant's tags (plus ``approximate_sky`` when vseq's offline sky stood in for the real
   sky maps, so such a run is never mistaken for a production one) and nightly statistics;
4. a ``mixedvisitseq`` row joins the completed visits and the nominal simulation (early parent:
   the newest completed sequence; late parent: the nominal simulation). It is recorded
   metadata-only (``visitseq_url`` NULL, as the schema allows): the joined table is exactly the
   concatenation of the two parents' stored visits, cut at ``last_early_day_obs`` /
   ``first_late_day_obs``; storing it again would duplicate up to a year of completed visits per
   telescope every day. Its ``visitseq_sha256`` is the content hash of that concatenation, so a
   reader who rebuilds it can check it.

Simulations are runs, not facts: re-materializing a partition adds new sequences (readers pick
the newest). Everything is written through ``record_sequence``, so each simulation is atomic.
The step runs in the Dagster pool :data:`SIMULATION_POOL`, whose limit (1 by default, set by
``vseq-nightly``; ``dagster instance concurrency set rubin_scheduler 1``) keeps a backfill from
running more simulations at once than the machine can hold.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import datetime as dt
import json
import logging
import tempfile
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
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

from vseq_resources.completed_history import PreloadedVisits, gather_completed_visits
from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource
from vseq_resources.dayobs import dayobs_mjd_start, parse_dayobs

from .completed import COMPLETED_STATS_COLUMNS
from .keys import COMPLETED_METADATA, PRENIGHT_METADATA, PRENIGHT_SIMS, asset_key, group_name
from .partitions import prenight_partitions, previous_night
from .recorded import materialized_metadata
from .reporting import band_counts, preview_table

if TYPE_CHECKING:
    from vseq_resources.archive import ArchivedSequence, VisitSequenceArchive
    from vseq_resources.simulation import SimulationResult

log = logging.getLogger(__name__)

SIMULATIONS_TABLE = "simulations"
MIXED_TABLE = "mixedvisitseq"
SIMULATION_POOL = "rubin_scheduler"
"""Dagster pool of the steps that run rubin_scheduler simulations (limit 1 on a small machine)."""
APPROXIMATE_SKY_TAG = "approximate_sky"
MIXED_TAGS = ("prenight", "mixed")
SCHEDULER_CONFIG_FILE = "scheduler_config.py"
SCHEDULER_CONFIG_TYPE = "scheduler_config"
REWARDS_FILE = "rewards.h5"
COMMENT_AUTHOR = "vseq-dagster"
COMPLETED_CACHE_DIR = "completed_cache"
"""Under the state directory: the completed visits already read (:mod:`vseq_resources.completed_history`)."""


# -- running and archiving ---------------------------------------------------------------------


@dataclass
class ArchivedSimulation:
    variant: str
    result: "SimulationResult"
    sequence: "ArchivedSequence"


@dataclass
class PrenightRun:
    """Everything one materialization of a partition recorded."""

    telescope: str
    day_obs: dt.date
    preloaded: PreloadedVisits
    simulations: list[ArchivedSimulation]
    mixed: "ArchivedSequence | None"
    conda_env_sha256: bytes
    seconds: dict[str, float]

    @property
    def nominal(self) -> ArchivedSimulation | None:
        for sim in self.simulations:
            if "nominal" in sim.result.tags:
                return sim
        return None


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def simulation_tags(result: "SimulationResult") -> list[str]:
    tags = list(result.tags)
    if result.site_data.get("kind") != "rubin_sim_data":
        tags.append(APPROXIMATE_SKY_TAG)
    return tags


def archive_simulation(
    archive: "VisitSequenceArchive",
    result: "SimulationResult",
    preloaded: PreloadedVisits,
    *,
    conda_env_sha256: bytes,
    lookback_nights: int | None,
    duration_hours: float | None,
    comment: str | None = None,
) -> "ArchivedSequence":
    """Record one finished simulation as a ``simulations`` sequence with its files."""
    from vseq_resources.visits import compute_nightly_stats

    visits = result.observations
    nights = [
        result.first_day_obs + dt.timedelta(days=i)
        for i in range((result.last_day_obs - result.first_day_obs).days + 1)
    ]
    stats = compute_nightly_stats(visits, columns=COMPLETED_STATS_COLUMNS) if len(visits) else False
    kwargs = dict(result.sim_runner_kwargs)
    kwargs["variant"] = result.variant.name
    kwargs["duration_hours"] = duration_hours
    kwargs["nights"] = len(nights)
    kwargs["preloaded"] = preloaded.describe(lookback_nights)
    with tempfile.TemporaryDirectory(prefix="vseq-prenight-") as tmp:
        files: dict[str, Any] = {
            SCHEDULER_CONFIG_FILE: (SCHEDULER_CONFIG_TYPE, result.scheduler_config.encode()),
        }
        if result.rewards is not None:
            rewards_path = Path(tmp) / REWARDS_FILE
            for key, frame in result.rewards.items():
                frame.to_hdf(rewards_path, key=key, complevel=5, complib="zlib")
            files[REWARDS_FILE] = ("rewards", rewards_path)
        return archive.record_sequence(
            SIMULATIONS_TABLE,
            visits,
            label=result.label,
            telescope=result.telescope,
            first_day_obs=result.first_day_obs,
            last_day_obs=result.last_day_obs,
            extra_tables={name: t for name, t in result.tables.items() if name != "observations"},
            files=files,
            tags=simulation_tags(result),
            comments=[(COMMENT_AUTHOR, comment)] if comment else (),
            nightly_stats=stats,
            scheduler_version=result.scheduler_version,
            config_url=result.config_url,
            conda_env_sha256=conda_env_sha256,
            parent_visitseq_uuid=preloaded.parent_uuid,
            parent_last_day_obs=preloaded.last_day_obs,
            sim_runner_kwargs=_json_safe(kwargs),
        )


def record_mixed(
    archive: "VisitSequenceArchive",
    preloaded: PreloadedVisits,
    nominal: ArchivedSimulation,
    comment: str | None = None,
) -> "ArchivedSequence | None":
    """The metadata-only ``mixedvisitseq`` of the completed visits followed by the nominal run."""
    if preloaded.parent_uuid is None:
        return None
    frames = [f for f in (preloaded.visits, nominal.result.observations) if f is not None and len(f)]
    joined = pd.concat(frames, ignore_index=True, sort=False) if frames else None
    result = nominal.result
    through = preloaded.last_day_obs.isoformat()
    label = f"Completed {result.telescope} visits through {through}, then: {result.label}"
    return archive.record_sequence(
        MIXED_TABLE,
        joined,
        label=label,
        telescope=result.telescope,
        first_day_obs=preloaded.first_day_obs,
        last_day_obs=result.last_day_obs,
        tags=list(MIXED_TAGS),
        comments=[(COMMENT_AUTHOR, comment)] if comment else (),
        nightly_stats=False,
        store_visits=False,
        visitseq_url=None,
        last_early_day_obs=preloaded.last_day_obs,
        first_late_day_obs=result.first_day_obs,
        early_parent_uuid=preloaded.parent_uuid,
        late_parent_uuid=nominal.sequence.uuid,
    )


def run_prenight(
    archive: "VisitSequenceArchive",
    telescope: str,
    day_obs: str | int | dt.date,
    settings: PrenightSimulationResource,
    *,
    site_data_dir: Path,
    completed_cache_dir: Path | None = None,
    comment: str | None = None,
    progress: Callable[[str], None] = log.info,
) -> PrenightRun:
    """Pre-load, simulate every variant and archive each run (the body of the asset).

    ``completed_cache_dir`` keeps the completed visits read for the next day's run
    (:mod:`vseq_resources.completed_history`)."""
    from vseq_resources.simulation import run_simulations

    night = parse_dayobs(day_obs)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    preloaded = gather_completed_visits(
        archive, telescope, night, settings.lookback_nights, cache_dir=completed_cache_dir
    )
    seconds["gather_completed"] = time.perf_counter() - started
    if preloaded.parent_uuid is None:
        progress(f"{telescope} {night}: no completed visits archived before {night}; simulating from scratch")
    else:
        progress(
            f"{telescope} {night}: pre-loading {preloaded.count} completed visits of "
            f"{len(preloaded.sequences)} nights {preloaded.first_day_obs}..{preloaded.last_day_obs} "
            f"(parent {preloaded.parent_uuid}; {preloaded.units_read} sequences read from the archive, "
            f"{preloaded.units_cached} from the local cache)"
        )
        if preloaded.last_day_obs != night - dt.timedelta(days=1):
            progress(f"warning: the completed visits of {night - dt.timedelta(days=1)} are not archived")
    conda_env_sha256 = archive.record_package_environment()
    variants = settings.variant_list()
    archived: list[ArchivedSimulation] = []

    def keep(result: "SimulationResult") -> None:
        sequence = archive_simulation(
            archive,
            result,
            preloaded,
            conda_env_sha256=conda_env_sha256,
            lookback_nights=settings.lookback_nights,
            duration_hours=settings.duration_hours,
            comment=comment,
        )
        archived.append(ArchivedSimulation(result.variant.name, result, sequence))
        progress(
            f"{telescope} {night} {result.variant.name}: {sequence.n_visits} visits in "
            f"{result.timings.get('simulation_seconds', 0):.0f} s, archived as {sequence.uuid}"
        )

    started = time.perf_counter()
    results = run_simulations(
        settings.scheduler,
        day_obs=night,
        nights=settings.nights,
        telescope=telescope,
        variants=variants,
        preloaded_visits=preloaded.visits,
        site_data_dir=site_data_dir,
        record_rewards=settings.record_rewards,
        duration_hours=settings.duration_hours,
        on_result=keep,
    )
    seconds["simulate_and_archive"] = time.perf_counter() - started
    if results:
        seconds["preload"] = results[0].timings.get("preload_seconds", 0.0)
    mixed = None
    nominal = next((sim for sim in archived if "nominal" in sim.result.tags), None)
    if settings.record_mixed and nominal is not None:
        mixed = record_mixed(archive, preloaded, nominal, comment=comment)
    return PrenightRun(telescope, night, preloaded, archived, mixed, conda_env_sha256, seconds)


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
        run = run_prenight(
            archive.get_archive(),
            telescope,
            night,
            prenight,
            site_data_dir=prenight.site_data_path(settings.state_dir),
            completed_cache_dir=settings.state_dir / COMPLETED_CACHE_DIR,
            comment=f"simulated by Dagster run {context.run.run_id}",
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
