"""The pre-night simulations of a night: pre-load, simulate every variant, archive each run.

For dayobs D (the afternoon before night D):

1. the completed visits through D-1 are gathered from the archive: for each night of the
   look-back window (every archived night by default, or the last ``lookback_nights``), the
   newest ``completed`` sequence with stored visits covering it, concatenated
   (:mod:`vseq_resources.completed_history`: what was read is kept in a local cache, so each day
   reads only the new night from the archive). The newest of them is the simulations'
   ``parent_visitseq_uuid``, its night ``parent_last_day_obs``; every sequence used is listed in
   ``sim_runner_kwargs["preloaded"]``;
2. the scheduler configuration (a file, URL or ``module:function``) is built and the completed
   visits pre-loaded into it ONCE; each variant (nominal, delayed start, degraded seeing, ...)
   then simulates ``nights`` nights from D on a deep copy of that pre-loaded scheduler
   (:func:`vseq_resources.simulation.run_simulations`);
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

A simulation created after its first night's dayobs is a re-simulation of the past, archived with
``resimulation`` in place of ``prenight``; every simulation records its run and the fingerprint of
its inputs; a run reuses an archived simulation with the same inputs unless ``resimulate`` is set
(:mod:`vseq_resources.prenight_runs` defines all three). Everything is written through
``record_sequence``, so each simulation is atomic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .completed_history import PreloadedVisits, gather_completed_visits
from .completed_night import COMPLETED_STATS_COLUMNS
from .config import PrenightSettings
from .dayobs import parse_dayobs
from .prenight_runs import (
    INPUTS_KEY,
    RESIMULATION_TAG,
    RUN_KEY,
    archived_tags,
    inputs_fingerprint,
    is_resimulation,
    run_identity,
    utc_now,
)
from .tempfiles import local_temporary

if TYPE_CHECKING:
    from .archive import ArchivedSequence, VisitSequenceArchive
    from .simulation import SimulationResult, SimulationVariant

log = logging.getLogger(__name__)

SIMULATIONS_TABLE = "simulations"
MIXED_TABLE = "mixedvisitseq"
APPROXIMATE_SKY_TAG = "approximate_sky"
REWARDS_TAG = "rewards"
MIXED_TAGS = ("prenight", "mixed")
"""The ``mixedvisitseq``'s tags (``resimulation`` in place of ``prenight`` for a re-simulation)."""
SCHEDULER_CONFIG_FILE = "scheduler_config.py"
SCHEDULER_CONFIG_TYPE = "scheduler_config"
REWARDS_FILE = "rewards.h5"
COMPLETED_CACHE_DIR = "completed_cache"
"""Under the state directory: the completed visits already read (:mod:`vseq_resources.completed_history`)."""


@dataclass
class ArchivedSimulation:
    """One variant's simulation and the ``simulations`` sequence it is archived as.

    ``reused``: the sequence was archived by an earlier run with the same inputs and is used
    again instead of simulating (``result`` is then None). ``observations`` are its visits.
    """

    variant: str
    result: SimulationResult | None
    sequence: ArchivedSequence
    observations: pd.DataFrame
    tags: list[str]
    site_data: dict[str, Any]
    reused: bool = False


@dataclass
class PrenightRun:
    """Everything one pre-night run of a (telescope, night) recorded, with its phase timings.

    ``run_id`` is the run identity its simulations record (:data:`~vseq_resources.prenight_runs.RUN_KEY`).
    """

    telescope: str
    day_obs: dt.date
    preloaded: PreloadedVisits
    simulations: list[ArchivedSimulation]
    mixed: ArchivedSequence | None
    conda_env_sha256: bytes
    seconds: dict[str, float]
    run_id: str = ""
    scheduler_version: str = ""
    config_url: str = ""

    @property
    def nominal(self) -> ArchivedSimulation | None:
        """The simulation tagged ``nominal``, if one was run."""
        for sim in self.simulations:
            if "nominal" in sim.tags:
                return sim
        return None

    @property
    def added(self) -> list[ArchivedSimulation]:
        return [sim for sim in self.simulations if not sim.reused]

    @property
    def reused(self) -> list[ArchivedSimulation]:
        return [sim for sim in self.simulations if sim.reused]


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def simulation_tags(result: SimulationResult, resimulation: bool = False) -> list[str]:
    """The variant's tags (``resimulation`` in place of ``prenight`` for a re-simulation of the
    past), ``rewards`` when its rewards are archived (as production tags its nominal run that
    keeps them: ``prenight ideal nominal rewards``), plus ``approximate_sky`` unless the real sky
    data were used."""
    tags = archived_tags(result.tags, resimulation)
    if result.rewards is not None and REWARDS_TAG not in tags:
        tags.append(REWARDS_TAG)
    if result.site_data.get("kind") != "rubin_sim_data":
        tags.append(APPROXIMATE_SKY_TAG)
    return tags


def archive_simulation(
    archive: VisitSequenceArchive,
    result: SimulationResult,
    preloaded: PreloadedVisits,
    *,
    conda_env_sha256: bytes,
    lookback_nights: int | None,
    duration_hours: float | None,
    comment: str | None = None,
    comment_author: str = "vseq",
    run_id: str | None = None,
    inputs_sha256: str | None = None,
    creation_time: dt.datetime | None = None,
) -> ArchivedSequence:
    """Record one finished simulation as a ``simulations`` sequence with its files.

    ``creation_time`` (default now) decides whether it is a re-simulation of the past
    (:func:`~vseq_resources.prenight_runs.is_resimulation`), and so its tags; ``run_id`` and
    ``inputs_sha256`` are recorded in its ``sim_runner_kwargs``.
    """
    from .visits import compute_nightly_stats

    creation_time = creation_time or utc_now()
    resimulation = is_resimulation(result.first_day_obs, creation_time)

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
    if run_id is not None:
        kwargs[RUN_KEY] = run_id
    if inputs_sha256 is not None:
        kwargs[INPUTS_KEY] = inputs_sha256
    with local_temporary("prenight") as tmp:
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
            tags=simulation_tags(result, resimulation),
            comments=[(comment_author, comment)] if comment else (),
            creation_time=creation_time,
            nightly_stats=stats,
            scheduler_version=result.scheduler_version,
            config_url=result.config_url,
            conda_env_sha256=conda_env_sha256,
            parent_visitseq_uuid=preloaded.parent_uuid,
            parent_last_day_obs=preloaded.last_day_obs,
            sim_runner_kwargs=_json_safe(kwargs),
        )


def record_mixed(
    archive: VisitSequenceArchive,
    preloaded: PreloadedVisits,
    nominal: ArchivedSimulation,
    comment: str | None = None,
    comment_author: str = "vseq",
) -> ArchivedSequence | None:
    """The metadata-only ``mixedvisitseq`` of the completed visits followed by the nominal run."""
    if preloaded.parent_uuid is None:
        return None
    frames = [f for f in (preloaded.visits, nominal.observations) if f is not None and len(f)]
    joined = pd.concat(frames, ignore_index=True, sort=False) if frames else None
    sequence = nominal.sequence
    through = preloaded.last_day_obs.isoformat()
    label = f"Completed {sequence.telescope} visits through {through}, then: {sequence.label}"
    return archive.record_sequence(
        MIXED_TABLE,
        joined,
        label=label,
        telescope=sequence.telescope,
        first_day_obs=preloaded.first_day_obs,
        last_day_obs=sequence.last_day_obs,
        tags=archived_tags(MIXED_TAGS, RESIMULATION_TAG in nominal.tags),
        comments=[(comment_author, comment)] if comment else (),
        nightly_stats=False,
        store_visits=False,
        visitseq_url=None,
        last_early_day_obs=preloaded.last_day_obs,
        first_late_day_obs=sequence.first_day_obs,
        early_parent_uuid=preloaded.parent_uuid,
        late_parent_uuid=sequence.uuid,
    )


HOST_SITE_DATA_KEYS = ("rubin_sim_data_dir",)
"""Keys of a site data description that say where a host keeps the data, not what they are (the
``versions`` say that): left out of the inputs, so that workers mounting ``rubin_sim_data`` at
different paths reuse each other's simulations."""


def simulation_inputs(
    telescope: str,
    night: dt.date,
    settings: PrenightSettings,
    variant: SimulationVariant,
    preloaded: PreloadedVisits,
    *,
    config: dict[str, str],
    site_data: dict[str, Any],
    scheduler_version: str,
) -> dict[str, Any]:
    """Everything that determines one variant's simulation (what
    :func:`~vseq_resources.prenight_runs.inputs_fingerprint` hashes)."""
    return {
        "telescope": telescope,
        "first_day_obs": night.isoformat(),
        "nights": settings.nights,
        "duration_hours": settings.duration_hours,
        "record_rewards": settings.record_rewards,
        "lookback_nights": settings.lookback_nights,
        "preloaded": {night.isoformat(): str(uuid) for night, uuid in sorted(preloaded.sequences.items())},
        "scheduler": config,
        "variant": {
            "name": variant.name,
            "tags": sorted(variant.tags),
            "delay_minutes": variant.delay_minutes,
            "seeing_fwhm_500": variant.seeing_fwhm_500,
            # only when set, so that the other variants' fingerprints (and reuse) stay as they were
            **(
                {"anomalous_overhead": list(variant.anomalous_overhead)}
                if variant.anomalous_overhead is not None
                else {}
            ),
        },
        "rubin_scheduler": scheduler_version,
        "site_data": {key: value for key, value in site_data.items() if key not in HOST_SITE_DATA_KEYS},
    }


def find_reusable(
    archive: VisitSequenceArchive, telescope: str, night: dt.date, last: dt.date, fingerprints: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Variant -> the newest archived ``simulations`` row of ``telescope`` over ``night``..``last``
    whose recorded inputs fingerprint is the variant's (``fingerprints``: variant -> hex)."""
    wanted = {value: variant for variant, value in fingerprints.items()}
    found: dict[str, dict[str, Any]] = {}
    for row in archive.find_sequences(
        SIMULATIONS_TABLE, telescope=telescope, first_day_obs=night, last_day_obs=last
    ):
        variant = wanted.get((row.get("sim_runner_kwargs") or {}).get(INPUTS_KEY))
        if variant is not None and variant not in found and row.get("visitseq_url"):
            found[variant] = row  # newest first
    return found


def _reused(archive: VisitSequenceArchive, variant: str, row: dict[str, Any]) -> ArchivedSimulation:
    """An archived simulation used again, as the run reports it."""
    from .archive import ArchivedSequence

    seq_uuid = row["visitseq_uuid"]
    visits = archive.get_visits(seq_uuid)  # checks the file's SHA-256 first
    files = {file_type: url for file_type, (url, _) in archive.metadata.get_files(seq_uuid).items()}
    sequence = ArchivedSequence(
        uuid=seq_uuid,
        table=SIMULATIONS_TABLE,
        telescope=row["telescope"],
        label=row["visitseq_label"],
        creation_time=row["creation_time"],
        first_day_obs=row["first_day_obs"],
        last_day_obs=row["last_day_obs"],
        visitseq_sha256=bytes(row["visitseq_sha256"]),
        visitseq_url=row["visitseq_url"],
        n_visits=len(visits),
        files=files,
        created=False,
    )
    site = (row.get("sim_runner_kwargs") or {}).get("site_data") or {}
    tags = sorted(archive.metadata.get_tags(seq_uuid))
    return ArchivedSimulation(variant, None, sequence, visits, tags, site, reused=True)


def run_prenight(
    archive: VisitSequenceArchive,
    telescope: str,
    day_obs: str | int | dt.date,
    settings: PrenightSettings,
    *,
    site_data_dir: Path,
    completed_cache_dir: Path | None = None,
    comment: str | None = None,
    comment_author: str = "vseq",
    progress: Callable[[str], None] = log.info,
) -> PrenightRun:
    """Pre-load, simulate every variant of ``settings`` and archive each run as it finishes.

    ``site_data_dir`` caches the prepared site data; ``completed_cache_dir`` keeps the completed
    visits read for the next day's run (:mod:`vseq_resources.completed_history`). ``progress``
    receives one line per phase and per archived simulation. Each simulation is archived
    atomically as soon as it ends, so a failure in a later variant keeps the earlier ones.

    A variant whose inputs (:func:`simulation_inputs`) match an archived simulation of the same
    nights is not simulated again: that simulation is reused (``reused`` in the result), unless
    ``settings.resimulate``. New simulations continue the run of the reused ones (the same
    :data:`~vseq_resources.prenight_runs.RUN_KEY`), or start a new run when none is reused.
    """
    import uuid as uuidlib

    import rubin_scheduler

    from .simulation import prepare_site_data, run_simulations
    from .simulation.config_loader import config_identity

    night = parse_dayobs(day_obs)
    last = night + dt.timedelta(days=settings.nights - 1)
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
            f"{len(preloaded.sequences)} nights {preloaded.first_day_obs}..{preloaded.last_day_obs}, "
            f"{len(preloaded.empty_nights)} of them empty (parent {preloaded.parent_uuid}; "
            f"{preloaded.units_read} sequences read from the archive, "
            f"{preloaded.units_cached} from the local cache)"
        )
        if preloaded.last_day_obs != night - dt.timedelta(days=1):
            progress(f"warning: the completed visits of {night - dt.timedelta(days=1)} are not archived")
    variants = settings.variant_list()
    config_url, config_text = config_identity(settings.scheduler)
    config = {"config_url": config_url, "sha256": hashlib.sha256(config_text.encode()).hexdigest()}
    site = prepare_site_data(night, last, cache_dir=site_data_dir).description
    fingerprints = {
        variant.name: inputs_fingerprint(
            simulation_inputs(
                telescope,
                night,
                settings,
                variant,
                preloaded,
                config=config,
                site_data=site,
                scheduler_version=rubin_scheduler.__version__,
            )
        )
        for variant in variants
    }
    reusable = {} if settings.resimulate else find_reusable(archive, telescope, night, last, fingerprints)
    reused = {name: _reused(archive, name, row) for name, row in reusable.items()}
    for name, sim in reused.items():
        progress(
            f"{telescope} {night} {name}: reusing {sim.sequence.uuid} (archived "
            f"{sim.sequence.creation_time:%Y-%m-%d %H:%M} UTC with the same inputs)"
        )
    runs = {run_identity({"sim_runner_kwargs": row.get("sim_runner_kwargs")}) for row in reusable.values()}
    run_id = runs.pop() if len(runs) == 1 and None not in runs else str(uuidlib.uuid4())
    to_simulate = [variant for variant in variants if variant.name not in reused]
    archived: dict[str, ArchivedSimulation] = dict(reused)
    conda_env_sha256 = archive.record_package_environment()

    def keep(result: SimulationResult) -> None:
        sequence = archive_simulation(
            archive,
            result,
            preloaded,
            conda_env_sha256=conda_env_sha256,
            lookback_nights=settings.lookback_nights,
            duration_hours=settings.duration_hours,
            comment=comment,
            comment_author=comment_author,
            run_id=run_id,
            inputs_sha256=fingerprints[result.variant.name],
        )
        tags = sorted(archive.metadata.get_tags(sequence.uuid))
        archived[result.variant.name] = ArchivedSimulation(
            result.variant.name, result, sequence, result.observations, tags, result.site_data
        )
        kind = " (a re-simulation of the past)" if RESIMULATION_TAG in tags else ""
        progress(
            f"{telescope} {night} {result.variant.name}: {sequence.n_visits} visits in "
            f"{result.timings.get('simulation_seconds', 0):.0f} s, archived as {sequence.uuid}{kind}"
        )

    started = time.perf_counter()
    results = []
    if to_simulate:
        results = run_simulations(
            settings.scheduler,
            day_obs=night,
            nights=settings.nights,
            telescope=telescope,
            variants=to_simulate,
            preloaded_visits=preloaded.visits,
            site_data_dir=site_data_dir,
            record_rewards=settings.record_rewards,
            duration_hours=settings.duration_hours,
            on_result=keep,
        )
    seconds["simulate_and_archive"] = time.perf_counter() - started
    if results:
        seconds["preload"] = results[0].timings.get("preload_seconds", 0.0)
    simulations = [archived[variant.name] for variant in variants if variant.name in archived]
    mixed = None
    nominal = next((sim for sim in simulations if "nominal" in sim.tags), None)
    if settings.record_mixed and nominal is not None and not nominal.reused:
        mixed = record_mixed(archive, preloaded, nominal, comment=comment, comment_author=comment_author)
    return PrenightRun(
        telescope,
        night,
        preloaded,
        simulations,
        mixed,
        conda_env_sha256,
        seconds,
        run_id,
        rubin_scheduler.__version__,
        config_url,
    )
