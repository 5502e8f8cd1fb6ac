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

Simulations are runs, not facts: running a night again adds new sequences (readers pick the
newest). Everything is written through ``record_sequence``, so each simulation is atomic.
"""

from __future__ import annotations

import datetime as dt
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
from .tempfiles import local_temporary

if TYPE_CHECKING:
    from .archive import ArchivedSequence, VisitSequenceArchive
    from .simulation import SimulationResult

log = logging.getLogger(__name__)

SIMULATIONS_TABLE = "simulations"
MIXED_TABLE = "mixedvisitseq"
APPROXIMATE_SKY_TAG = "approximate_sky"
MIXED_TAGS = ("prenight", "mixed")
SCHEDULER_CONFIG_FILE = "scheduler_config.py"
SCHEDULER_CONFIG_TYPE = "scheduler_config"
REWARDS_FILE = "rewards.h5"
COMPLETED_CACHE_DIR = "completed_cache"
"""Under the state directory: the completed visits already read (:mod:`vseq_resources.completed_history`)."""


@dataclass
class ArchivedSimulation:
    """One variant's simulation and the ``simulations`` sequence it was archived as."""

    variant: str
    result: SimulationResult
    sequence: ArchivedSequence


@dataclass
class PrenightRun:
    """Everything one pre-night run of a (telescope, night) recorded, with its phase timings."""

    telescope: str
    day_obs: dt.date
    preloaded: PreloadedVisits
    simulations: list[ArchivedSimulation]
    mixed: ArchivedSequence | None
    conda_env_sha256: bytes
    seconds: dict[str, float]

    @property
    def nominal(self) -> ArchivedSimulation | None:
        """The simulation tagged ``nominal``, if one was run."""
        for sim in self.simulations:
            if "nominal" in sim.result.tags:
                return sim
        return None


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def simulation_tags(result: SimulationResult) -> list[str]:
    """The variant's tags, plus ``approximate_sky`` unless the real sky data were used."""
    tags = list(result.tags)
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
) -> ArchivedSequence:
    """Record one finished simulation as a ``simulations`` sequence with its files."""
    from .visits import compute_nightly_stats

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
            tags=simulation_tags(result),
            comments=[(comment_author, comment)] if comment else (),
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
        comments=[(comment_author, comment)] if comment else (),
        nightly_stats=False,
        store_visits=False,
        visitseq_url=None,
        last_early_day_obs=preloaded.last_day_obs,
        first_late_day_obs=result.first_day_obs,
        early_parent_uuid=preloaded.parent_uuid,
        late_parent_uuid=nominal.sequence.uuid,
    )


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
    """
    from .simulation import run_simulations

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
        mixed = record_mixed(archive, preloaded, nominal, comment=comment, comment_author=comment_author)
    return PrenightRun(telescope, night, preloaded, archived, mixed, conda_env_sha256, seconds)
