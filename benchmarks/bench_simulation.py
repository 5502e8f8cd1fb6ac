"""Benchmark of pre-night simulations: site data, default nights, pre-loading a year of visits.

Run with ``.venv/bin/python benchmarks/bench_simulation.py [--dark DAYOBS] [--bright DAYOBS]
[--no-reference] [--no-archive] [--partition-only]``. Prints wall and CPU times and the
process's peak resident memory; the figures are recorded in ``docs/benchmarks.md``
("Simulation"). Targets: a one-night default simulation under 60 s and pre-loading a year of
visits (~200k) under 10 s on a 2-core machine; a default partition's simulations (3 variants x
3 nights) under 90 s (issue 16).

Measured:

- site data preparation for one night (cold, then cached);
- a one-night simulation of the default configuration on a dark night (new moon) and a bright
  one (full moon), with the visits per band;
- a default pre-night partition's simulations (issue 16): 3 variants (nominal, delay_60,
  seeing_1.2) x 3 nights from the dark night, rewards recorded, after pre-loading two nights of
  synthetic completed visits; first as before (variants one after the other in this process,
  rubin_scheduler's own mask padding and reward tables: the baseline, measured in the same
  run), then as a partition now runs them (a worker process per variant, up to
  :data:`~vseq_resources.simulation.runner.DEFAULT_WORKERS`; :mod:`vseq_resources.simulation.grow_mask`
  and :mod:`vseq_resources.simulation.reward_tables`). Wall time, CPU time of this process
  and of its worker processes, the load average before and after, where the time went (site
  data, configuration and pre-load, each variant's wall and CPU time), the wall time each would
  take on an idle 2-core machine computed from the CPU times (:func:`_idle_wall`), and a check
  that both simulated exactly the same visits and rewards. ``--partition-only`` runs just this;
- pre-loading 200 000 synthetic completed visits spread over the year before the night: with
  rubin_scheduler's own ``CoreScheduler.add_observations_array`` (the reference, before vseq's
  fix; skipped with ``--no-reference``) and with vseq's path (:mod:`vseq_resources.simulation.preload`);
- deep-copying the pre-loaded scheduler, which is what each further variant of a partition costs
  instead of pre-loading again;
- the same year end to end as a partition pre-loads it (skipped with ``--no-archive``):
  archived as nightly ``completed`` sequences (``file://`` store, a fresh schema on the local
  PostgreSQL or an embedded server), gathered back with ``gather_completed_visits`` (each night's
  file checked against its checksum and read) with nothing cached, then, after one more night is
  archived, the next day's gathering (that night from the archive, the rest from the local cache)
  and pre-load.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.completed_history import gather_completed_visits
from vseq_resources.dayobs import dayobs_of_mjd, parse_dayobs
from vseq_resources.metadata.database import MetadataDatabase
from vseq_resources.simulation import (
    load_scheduler_config,
    preload_visits,
    prepare_site_data,
    run_simulation,
    visits_to_observations,
)
from vseq_resources.store import ArchiveStore
from vseq_tests import services
from vseq_tests.resources.simulation.synthetic import archive_nightly, synthetic_visits

DEFAULT_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"
YEAR_OF_VISITS = 200_000
DARK_NIGHT = dt.date(2026, 12, 9)  # new moon 2026-12-09
BRIGHT_NIGHT = dt.date(2026, 12, 24)  # full moon 2026-12-24


@contextlib.contextmanager
def timed(label: str, extra: str = "") -> Iterator[dict]:
    info: dict = {}
    wall, cpu = time.perf_counter(), time.process_time()
    yield info
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<52} {wall:7.1f} s wall {cpu:7.1f} s CPU  {info.get('note', extra)}", flush=True)


def quiet() -> contextlib.AbstractContextManager:
    return contextlib.redirect_stdout(open(os.devnull, "w"))  # noqa: SIM115 - sim_runner chatter


def preload_from_archive(visits: pd.DataFrame, night: dt.date, workdir: Path) -> None:
    """A year archived night by night, then gathered and pre-loaded as a partition does.

    The first gathering (nothing cached) is what a fresh deployment's first afternoon costs; the
    next day's (one new night, the rest from the local cache) is what every later one costs.
    """
    url = services.postgres_server_url(workdir / "pg")
    schema = services.new_schema_name("bench_simulation")
    db = MetadataDatabase.from_url(url, schema, create=True)
    archive = VisitSequenceArchive(db, ArchiveStore((workdir / "store").as_uri() + "/"))
    cache = workdir / "completed_cache"
    try:
        nights = visits["observationStartMJD"].map(dayobs_of_mjd)
        last = nights.max()
        with timed("archive the year as nightly completed sequences") as info:
            info["note"] = f"{len(archive_nightly(archive, visits[nights != last]))} sequences"
        with timed("gather the year before its last night, nothing cached") as info:
            cold = gather_completed_visits(archive, "simonyi", last, cache_dir=cache)
            info["note"] = f"{cold.count} visits, {cold.units_read} files read"
        archive_nightly(archive, visits[nights == last])
        config = load_scheduler_config(DEFAULT_CONFIG)
        with timed("the next day: gather (one new night) and pre-load") as info:
            wall, cpu = time.perf_counter(), time.process_time()
            warm = gather_completed_visits(archive, "simonyi", night, cache_dir=cache)
            gathered = time.perf_counter() - wall, time.process_time() - cpu
            preload_visits(config.scheduler, warm.visits)
            info["note"] = (
                f"{warm.count} visits: {warm.units_read} read, {warm.units_cached} cached; "
                f"gathering {gathered[0]:.1f} s wall {gathered[1]:.1f} s CPU"
            )
    finally:
        db.close()
        services.drop_schema(url, schema)


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def partition(night: dt.date) -> None:
    """A default partition's simulations, the old way (baseline) and the new way, same visits."""
    from vseq_resources.simulation import DEFAULT_VARIANTS, run_simulations
    from vseq_resources.simulation.runner import DEFAULT_WORKERS

    completed = synthetic_visits(1500, night - dt.timedelta(days=2), night - dt.timedelta(days=1))
    runs = {}
    with tempfile.TemporaryDirectory(prefix="vseq-bench-partition-") as tmp:
        with timed("partition: site data for 3 nights (cold)"):
            prepare_site_data(night, night + dt.timedelta(days=2), cache_dir=tmp)
        for name, workers, fast in (("baseline", 1, False), ("now", DEFAULT_WORKERS, True)):
            load = os.getloadavg()[0]
            wall, (own, children) = time.perf_counter(), _cpu_seconds()
            with quiet():
                results = run_simulations(
                    DEFAULT_CONFIG,
                    day_obs=night,
                    nights=3,
                    variants=DEFAULT_VARIANTS,
                    preloaded_visits=completed,
                    site_data_dir=tmp,
                    record_rewards=True,
                    workers=workers,
                    fast=fast,
                )
            wall = time.perf_counter() - wall
            own_after, children_after = _cpu_seconds()
            runs[name] = results
            here, in_workers = own_after - own, children_after - children
            variants = ", ".join(
                f"{r.variant.name} {r.timings['simulation_seconds']:.1f} s wall "
                f"{r.timings['simulation_cpu_seconds']:.1f} s CPU ({len(r.observations)} visits)"
                for r in results
            )
            print(
                f"partition {name:<8} (workers={workers}, fast={fast}): {wall:6.1f} s wall, "
                f"CPU {here:6.1f} s here + {in_workers:6.1f} s in workers = {here + in_workers:6.1f} s; "
                f"load {load:.2f} -> {os.getloadavg()[0]:.2f}\n    pre-load "
                f"{results[0].timings['preload_seconds']:.2f} s; per variant (in its process): {variants}\n"
                f"    idle 2-core wall estimate: {_idle_wall(here, in_workers, results, workers):.1f} s",
                flush=True,
            )
    for old, new in zip(runs["baseline"], runs["now"], strict=True):
        pd.testing.assert_frame_equal(old.observations, new.observations)
    for old, new in zip(runs["baseline"], runs["now"], strict=True):
        for key in ("reward_df", "obs_rewards"):
            pd.testing.assert_frame_equal(_simulated(old.rewards[key]), _simulated(new.rewards[key]))
    print("partition: both ways simulated identical visits and rewards for every variant", flush=True)


def _idle_wall(here: float, in_workers: float, results: list, workers: int, cores: int = 2) -> float:
    """The wall time the run would take on an idle machine of ``cores`` cores, from CPU times.

    This process's CPU (configuration, pre-load, pickling, collecting results) counts as serial.
    In one process, wall = CPU. With worker processes, each variant's worker costs its variant's
    CPU plus an equal share of the workers' CPU outside the variants (imports, unpickling); at
    most ``cores`` run at a time; with one variant per worker and more workers than cores the
    operating system shares the cores, so they end when the total is done on ``cores`` cores, or
    when the busiest one ends if that is later. With fewer workers than variants each worker's
    variants are summed (the pool gives the next variant to the first free worker: in variant
    order, the first ``workers`` variants start at once).
    """
    if workers == 1 or len(results) == 1:
        return here + in_workers
    variant_cpu = [r.timings["simulation_cpu_seconds"] for r in results]
    overhead = (in_workers - sum(variant_cpu)) / min(workers, len(results))
    loads = [0.0] * min(workers, len(results))
    for cpu in variant_cpu:  # each next variant to the worker that is free first
        loads[loads.index(min(loads))] += cpu
    per_worker = [load + overhead for load in loads]
    if len(per_worker) <= cores:
        return here + max(per_worker)
    return here + max(sum(per_worker) / cores, max(per_worker))


WALL_CLOCK_COLUMNS = ("queue_fill_mjd_ns",)
"""Reward columns stamped from the machine's clock (``time.perf_counter_ns``), not simulated."""


def _simulated(frame: pd.DataFrame) -> pd.DataFrame:
    """A rewards table without its wall-clock stamps (as columns or index levels)."""
    frame = frame.reset_index()
    return frame.drop(columns=[c for c in WALL_CLOCK_COLUMNS if c in frame.columns])


def main(dark: dt.date, bright: dt.date, reference: bool, from_archive: bool) -> None:
    os.environ.pop("RUBIN_SIM_DATA_DIR", None)  # the offline path is what is measured
    print(f"load average before: {os.getloadavg()[0]:.2f} (2-core machine; shared load skews wall times)")
    with tempfile.TemporaryDirectory(prefix="vseq-bench-") as tmp:
        cache = Path(tmp)
        with timed("site data preparation (1 night, cold cache)"):
            site = prepare_site_data(dark, dark, cache_dir=cache)
        with timed("site data preparation (cached)"):
            prepare_site_data(dark, dark, cache_dir=cache)

        for label, night in (("dark", dark), ("bright", bright)):
            with timed(f"one-night default simulation, {label} {night}"), quiet():
                result = run_simulation(DEFAULT_CONFIG, day_obs=night, site_data_dir=cache)
            bands = result.observations["band"].value_counts().to_dict()
            print(f"    {len(result.observations)} visits {bands}")

        visits = synthetic_visits(YEAR_OF_VISITS, dark - dt.timedelta(days=365), dark - dt.timedelta(days=1))
        with site.activated():
            with timed(f"convert {len(visits)} visits to an ObservationArray"):
                visits_to_observations(visits)
            if reference:
                config = load_scheduler_config(DEFAULT_CONFIG)
                with timed("pre-load a year, rubin_scheduler add_observations_array"):
                    preload_visits(config.scheduler, visits, fast=False)
                del config
            config = load_scheduler_config(DEFAULT_CONFIG)
            with timed("pre-load a year, vseq (single pass, no re-sorts)"):
                preload_visits(config.scheduler, visits)
            with timed("deep copy of the pre-loaded scheduler (per variant)"):
                copy.deepcopy(config.scheduler)
            if from_archive:
                workdir = Path(tempfile.mkdtemp(prefix="vseq-bench-simulation-", dir="/var/tmp"))
                try:
                    preload_from_archive(visits, dark, workdir)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dark", default=DARK_NIGHT.isoformat(), help="a dark night (dayobs)")
    parser.add_argument("--bright", default=BRIGHT_NIGHT.isoformat(), help="a bright night (dayobs)")
    parser.add_argument("--no-reference", action="store_true", help="skip rubin_scheduler's own pre-load")
    parser.add_argument("--no-archive", action="store_true", help="skip the year through the archive")
    parser.add_argument("--partition-only", action="store_true", help="only the partition benchmark")
    args = parser.parse_args()
    os.environ.pop("RUBIN_SIM_DATA_DIR", None)
    print(f"load average before: {os.getloadavg()} (2-core machine shared with other work)", flush=True)
    partition(parse_dayobs(args.dark))
    if args.partition_only:
        raise SystemExit(0)
    main(parse_dayobs(args.dark), parse_dayobs(args.bright), not args.no_reference, not args.no_archive)
