"""Running one pre-night simulation: configuration + site data + variant in, visits and metadata out.

The run mirrors production's pre-night simulations: the scheduler is built from its
configuration, completed visits are pre-loaded, a ``ModelObservatory`` with ideal weather (no
clouds, no downtime; constant seeing) simulates from twilight (-12 degrees, the observatory's
``starting_time_key``) of the first night to twilight of the last, and ``sim_runner`` writes an
opsim sqlite file whose tables are all returned. Everything the archive records about the run
(label, tags, scheduler version, configuration URL and text, ``sim_runner`` arguments, the site
data used, the nights covered) comes back in :class:`SimulationResult`.

rubin_scheduler reads its data directory from the environment, so a run sets
``RUBIN_SIM_DATA_DIR`` for its duration: run simulations one at a time per process.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import multiprocessing
import pickle
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rubin_scheduler
from rubin_scheduler.scheduler import sim_runner
from rubin_scheduler.scheduler.model_observatory import ModelObservatory
from rubin_scheduler.scheduler.utils import ObservationArray, SchemaConverter, run_info_table
from rubin_scheduler.site_models import ConstantSeeingData
from rubin_scheduler.utils import SURVEY_START_MJD

from ..dayobs import dayobs_mjd_start, dayobs_of_mjd, parse_dayobs
from ..errors import InvalidInputError
from ..tempfiles import local_temporary
from .config_loader import SchedulerConfig, load_scheduler_config
from .grow_mask import fast_grow_mask
from .output import CapturedMessage, SimulationOutput, captured_simulation_output
from .overhead import AnomalousOverhead
from .preload import preload_visits
from .reward_tables import fast_reward_tables
from .site_data import SiteData, prepare_site_data
from .sky import ApproximateSkyModel
from .variants import NOMINAL, SimulationVariant

RUBIN_SCHEDULER_TELESCOPES = {"simonyi": "rubin", "auxtel": "auxtel"}
REWARD_TABLES = ("rewards", "obs_rewards")
DEFAULT_WORKERS = 4
"""Most variants simulated at once, each in a process of its own: a partition's 3-4 variants all
start together and the operating system shares the cores among them, so the run ends when the
total work divided by the cores is done, not when the busiest of two workers ends its two
variants (the deployment machine has 2 cores; ``docs/benchmarks.md``)."""

log = logging.getLogger(__name__)


def variant_processes(workers: int, n_variants: int) -> int:
    """How many variants run at once: ``workers``, at most one per variant, and one (in this
    process) when this process is daemonic. Python forbids a daemonic process to start processes,
    and Celery's prefork workers run each task, a Dagster step with the Celery executor, in a
    daemonic child; the step then simulates its variants one after the other instead of failing."""
    if multiprocessing.current_process().daemon:
        return 1
    return min(workers, n_variants)


@dataclass
class SimulationResult:
    """A finished simulation and everything the archive records about it.

    ``tables`` holds every table of the opsim output (``observations``, ``info``, ...) except
    the reward tables, which are in ``rewards`` (keys ``reward_df`` and ``obs_rewards``, as in
    the archive's ``rewards.h5``) when rewards were recorded.
    """

    observations: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    rewards: dict[str, pd.DataFrame] | None
    label: str
    tags: tuple[str, ...]
    variant: SimulationVariant
    telescope: str
    scheduler_version: str
    config_url: str
    scheduler_config: str
    sim_runner_kwargs: dict[str, Any]
    site_data: dict[str, Any]
    first_day_obs: dt.date
    last_day_obs: dt.date
    sim_start_mjd: float
    sim_end_mjd: float
    n_preloaded: int
    preloaded_last_day_obs: dt.date | None
    timings: dict[str, float] = field(default_factory=dict)
    output: list[CapturedMessage] = field(default_factory=list)
    """What rubin_scheduler printed and warned while simulating (:mod:`.output`), already logged
    by :func:`run_simulations`."""


def run_simulation(
    scheduler_source: str | Path,
    *,
    day_obs: str | int | dt.date,
    nights: int = 1,
    telescope: str = "simonyi",
    variant: SimulationVariant = NOMINAL,
    preloaded_visits: pd.DataFrame | None = None,
    site_data_dir: Path | str | None = None,
    record_rewards: bool = False,
    duration_hours: float | None = None,
) -> SimulationResult:
    """Simulate ``nights`` nights starting with ``day_obs``.

    ``scheduler_source`` is a configuration script (path or URL) or ``module:function`` (see
    :mod:`.config_loader`). ``preloaded_visits`` (opsim schema) are fed to the scheduler first;
    visits at or after the simulation's nominal start are ignored, as production does.
    ``site_data_dir`` is where prepared site data are cached. ``duration_hours`` cuts the run
    short (tests, quick looks).
    """
    (result,) = run_simulations(
        scheduler_source,
        day_obs=day_obs,
        nights=nights,
        telescope=telescope,
        variants=(variant,),
        preloaded_visits=preloaded_visits,
        site_data_dir=site_data_dir,
        record_rewards=record_rewards,
        duration_hours=duration_hours,
    )
    return result


def run_simulations(
    scheduler_source: str | Path,
    *,
    day_obs: str | int | dt.date,
    nights: int = 1,
    telescope: str = "simonyi",
    variants: Sequence[SimulationVariant] = (NOMINAL,),
    preloaded_visits: pd.DataFrame | None = None,
    site_data_dir: Path | str | None = None,
    record_rewards: bool = False,
    duration_hours: float | None = None,
    on_result: Callable[[SimulationResult], None] | None = None,
    workers: int | None = None,
    fast: bool = True,
) -> list[SimulationResult]:
    """Simulate the same nights once per variant, pre-loading the completed visits only once.

    The configuration is built and the visits pre-loaded into its scheduler once, then pickled;
    each variant runs on its own unpickled copy (a few hundredths of a second, where pre-loading
    a year of visits takes seconds), so the variants start from the identical survey state.

    The variants are independent, so up to ``workers`` of them run at once, each in a process
    of its own (``spawn``: a fresh interpreter, safe inside a threaded Dagster run; it pays
    about two seconds of imports; a script that calls this at import time needs the usual
    ``if __name__ == "__main__":`` guard). Default :data:`DEFAULT_WORKERS`; 1 runs them one
    after the other in this process. Every variant's result is the same either way (a variant's run depends
    only on its copy of the scheduler and its observatory: ``benchmarks/bench_simulation.py``
    compares them). ``fast`` pads telescope-limit masks with :mod:`.grow_mask` (same masks, a
    quarter of the simulation time less) and assembles reward tables with :mod:`.reward_tables`
    (same tables, a third less when rewards are recorded); False is rubin_scheduler's own code.

    ``on_result`` is called in this process with each result, in the order of ``variants``, as
    soon as it and the ones before it are ready (to archive it while the others still run).
    Other arguments as for :func:`run_simulation`.
    """
    first = parse_dayobs(day_obs)
    if nights < 1:
        raise InvalidInputError(f"nights must be at least 1, not {nights}")
    if telescope not in RUBIN_SCHEDULER_TELESCOPES:
        raise InvalidInputError(
            f"unknown telescope {telescope!r}: use one of {sorted(RUBIN_SCHEDULER_TELESCOPES)}"
        )
    if not variants:
        raise InvalidInputError("no simulation variants given")
    workers = DEFAULT_WORKERS if workers is None else workers
    if workers < 1:
        raise InvalidInputError(f"workers must be at least 1, not {workers}")
    # Nothing rubin_scheduler prints or warns reaches the terminal: it is logged, once per
    # distinct message, when the simulations end (.output). Only rubin_scheduler's work is
    # captured (the preparation here, each variant in _simulate_variant): ``on_result`` is the
    # caller's (it archives and logs), and its log lines must not come back as rubin_scheduler's.
    output = SimulationOutput()
    try:
        with captured_simulation_output(output):
            last = first + dt.timedelta(days=nights - 1)
            site = prepare_site_data(first, last, cache_dir=site_data_dir)
            with site.activated():
                config = load_scheduler_config(scheduler_source)
                probe = _observatory(
                    config, site, variants[0], dayobs_mjd_start(first) + 0.5, copy_given=True
                )
                nominal_start, _ = _night_bounds(probe, first, last)
                preload_started = time.perf_counter()
                n_preloaded, preloaded_last = _preload(config, preloaded_visits, nominal_start)
                preload_seconds = time.perf_counter() - preload_started
                state = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
        task = _VariantTask(state, site, telescope, first, last, record_rewards, duration_hours, fast)
        results = []

        def finish(result: SimulationResult) -> None:
            output.merge(result.output)
            result.n_preloaded, result.preloaded_last_day_obs = n_preloaded, preloaded_last
            result.timings["preload_seconds"] = round(preload_seconds, 3)
            if on_result is not None:
                on_result(result)
            results.append(result)

        processes = variant_processes(workers, len(variants))
        if processes < min(workers, len(variants)):
            log.info("daemonic process (a Celery worker's): simulating one variant at a time")
        if processes == 1:
            for variant in variants:
                finish(_simulate_variant(task, variant))
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(processes, mp_context=context) as pool:
                futures = [pool.submit(_simulate_variant, task, variant) for variant in variants]
                for future in futures:
                    finish(future.result())
        return results
    finally:
        output.emit()


@dataclass(frozen=True)
class _VariantTask:
    """What every variant of a run shares: the pickled pre-loaded configuration and the settings."""

    state: bytes
    site: SiteData
    telescope: str
    first: dt.date
    last: dt.date
    record_rewards: bool
    duration_hours: float | None
    fast: bool


def _simulate_variant(task: _VariantTask, variant: SimulationVariant) -> SimulationResult:
    """One variant on its own copy of the pre-loaded configuration (here or in a worker process)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    with (
        captured_simulation_output() as output,
        task.site.activated(),
        fast_grow_mask() if task.fast else contextlib.nullcontext(),
        fast_reward_tables() if task.fast else contextlib.nullcontext(),
    ):
        config = pickle.loads(task.state)
        result = _run_variant(
            config,
            task.site,
            variant,
            task.telescope,
            task.first,
            task.last,
            task.record_rewards,
            task.duration_hours,
        )
    result.timings = {
        "simulation_seconds": round(time.perf_counter() - started, 3),
        "simulation_cpu_seconds": round(time.process_time() - cpu_started, 3),
    }
    result.output = output.as_list()
    return result


def _run_variant(
    config: SchedulerConfig,
    site: SiteData,
    variant: SimulationVariant,
    telescope: str,
    first: dt.date,
    last: dt.date,
    record_rewards: bool,
    duration_hours: float | None,
) -> SimulationResult:
    observatory = _observatory(config, site, variant, dayobs_mjd_start(first) + 0.5)
    nominal_start, end = _night_bounds(observatory, first, last)
    start = nominal_start + variant.delay_minutes / 1440.0
    if duration_hours is not None:
        end = min(end, start + duration_hours / 24.0)
    if end <= start:
        raise InvalidInputError(f"variant {variant.name} leaves no time to observe on {first}")
    config.scheduler.keep_rewards = record_rewards
    kwargs = {
        "sim_start_mjd": start,
        "sim_duration": end - start,
        "record_rewards": record_rewards,
        "telescope": RUBIN_SCHEDULER_TELESCOPES[telescope],
    }
    overhead = None
    if variant.anomalous_overhead is not None:
        overhead = AnomalousOverhead(*variant.anomalous_overhead)
    tables, rewards = _run(observatory, config, kwargs, overhead)
    approximate = "; approximate vseq sky and almanac" if site.approximate else ""
    run_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    version = rubin_scheduler.__version__
    return SimulationResult(
        observations=tables["observations"],
        tables=tables,
        rewards=rewards,
        label=f"{variant.description}, run at {run_at} with rubin_scheduler {version}{approximate}",
        tags=variant.tags,
        variant=variant,
        telescope=telescope,
        scheduler_version=version,
        config_url=config.config_url,
        scheduler_config=config.source_text,
        sim_runner_kwargs={
            **kwargs,
            "seeing_fwhm_500": variant.fwhm_500,
            "cloud_data": "ideal",
            "downtimes": "ideal",
            "delay_minutes": variant.delay_minutes,
            "anomalous_overhead": (
                None if overhead is None else {"seed": overhead.seed, "slew_scale": overhead.slew_scale}
            ),
            "site_data": site.description,
        },
        site_data=site.description,
        first_day_obs=first,
        last_day_obs=last,
        sim_start_mjd=start,
        sim_end_mjd=end,
        n_preloaded=0,
        preloaded_last_day_obs=None,
    )


def _observatory(
    config: SchedulerConfig, site: SiteData, variant: SimulationVariant, mjd: float, copy_given: bool = False
) -> ModelObservatory:
    """The configuration's observatory, or an ideal-weather one; the approximate sky when needed."""
    seeing = ConstantSeeingData(fwhm_500=variant.fwhm_500)
    observatory = config.observatory
    if observatory is not None and copy_given:
        observatory = copy.deepcopy(observatory)
    if observatory is None:
        observatory = ModelObservatory(
            nside=config.nside,
            mjd=mjd,
            mjd_start=SURVEY_START_MJD,
            seeing_data=seeing,
            cloud_data="ideal",
            downtimes="ideal",
            no_sky=site.approximate,
            init_load_length=None,
        )
    elif variant.seeing_fwhm_500 is not None:
        observatory.seeing_data = seeing
    if site.approximate:
        observatory.sky_model = ApproximateSkyModel(nside=config.nside, almanac=observatory.almanac)
    return observatory


def _night_bounds(observatory: ModelObservatory, first: dt.date, last: dt.date) -> tuple[float, float]:
    """Start of observing on the first night and end on the last, from the observatory's almanac."""
    sunsets = observatory.almanac.sunsets

    def row(day: dt.date) -> int:
        mjd0 = dayobs_mjd_start(day)
        rows = np.nonzero((sunsets["sunset"] >= mjd0) & (sunsets["sunset"] < mjd0 + 1))[0]
        if rows.size != 1:
            raise InvalidInputError(f"the almanac in use does not cover dayobs {day}")
        return int(rows[0])

    return (
        float(sunsets[observatory.starting_time_key][row(first)]),
        float(sunsets[observatory.ending_time_key][row(last)]),
    )


def _preload(
    config: SchedulerConfig, visits: pd.DataFrame | None, before_mjd: float
) -> tuple[int, dt.date | None]:
    if visits is None or len(visits) == 0:
        return 0, None
    if "observationStartMJD" not in visits.columns:
        raise InvalidInputError("pre-loaded visits lack observationStartMJD")
    earlier = visits[visits["observationStartMJD"] < before_mjd]
    count = preload_visits(config.scheduler, earlier)
    last = dayobs_of_mjd(float(earlier["observationStartMJD"].max())) if count else None
    return count, last


def _run(
    observatory: ModelObservatory,
    config: SchedulerConfig,
    kwargs: dict[str, Any],
    overhead: AnomalousOverhead | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame] | None]:
    with local_temporary("sim") as tmp:
        filename = Path(tmp) / "opsim.db"
        output = sim_runner(
            observatory,
            config.scheduler,
            filename=str(filename),
            verbose=False,
            save_on_fail=False,
            anomalous_overhead_func=overhead,
            **kwargs,
        )
        if filename.exists():
            tables = _read_tables(filename)
        else:  # no visits at all: sim_runner writes nothing
            tables = {
                "observations": SchemaConverter().obs2opsim(ObservationArray(n=0)),
                "info": pd.DataFrame(run_info_table(observatory)).reset_index(),
            }
    for name in REWARD_TABLES:
        tables.pop(name, None)
    rewards = None
    if kwargs["record_rewards"]:
        reward_df, obs_rewards = output[3], output[4]
        rewards = {
            "reward_df": reward_df if reward_df is not None else pd.DataFrame(),
            "obs_rewards": obs_rewards.to_frame() if obs_rewards is not None else pd.DataFrame(),
        }
    return tables, rewards


def _read_tables(filename: Path) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(filename) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: pd.read_sql(f'SELECT * FROM "{name}"', con) for name in names}
