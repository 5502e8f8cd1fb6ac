"""Benchmark of pre-night simulations: site data, one default night, pre-loading a year of visits.

Run with ``.venv/bin/python benchmarks/bench_simulation.py [DAYOBS]``. Prints wall times and the
process's peak resident memory. Targets (issue): a one-night default simulation under 60 s and
pre-loading a year of visits (~200k) under 10 s on a 2-core machine.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

from vseq_resources.dayobs import parse_dayobs
from vseq_resources.simulation import (
    load_scheduler_config,
    preload_visits,
    prepare_site_data,
    run_simulation,
    visits_to_observations,
)
from vseq_tests.resources.simulation.synthetic import synthetic_visits

DEFAULT_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"
YEAR_OF_VISITS = 200_000


def main(day_obs: dt.date) -> None:
    with tempfile.TemporaryDirectory(prefix="vseq-bench-") as tmp:
        cache = Path(tmp)
        started = time.perf_counter()
        site = prepare_site_data(day_obs, day_obs, cache_dir=cache)
        print(f"site data preparation (1 night, cold cache): {time.perf_counter() - started:6.1f} s")
        started = time.perf_counter()
        prepare_site_data(day_obs, day_obs, cache_dir=cache)
        print(f"site data preparation (cached):              {time.perf_counter() - started:6.2f} s")

        started = time.perf_counter()
        result = run_simulation(DEFAULT_CONFIG, day_obs=day_obs, site_data_dir=cache)
        elapsed = time.perf_counter() - started
        bands = result.observations["band"].value_counts().to_dict()
        count = len(result.observations)
        print(f"one-night default simulation:                {elapsed:6.1f} s ({count} visits {bands})")

        visits = synthetic_visits(
            YEAR_OF_VISITS, day_obs - dt.timedelta(days=365), day_obs - dt.timedelta(days=1)
        )
        with site.activated():
            config = load_scheduler_config(DEFAULT_CONFIG)
            started = time.perf_counter()
            visits_to_observations(visits)
            converted = time.perf_counter() - started
            started = time.perf_counter()
            preload_visits(config.scheduler, visits)
            total = time.perf_counter() - started
        print(
            f"pre-load a year of visits ({len(visits)}):        {total:6.1f} s (conversion {converted:.1f} s)"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:                                    {peak_mb:6.0f} MB")


if __name__ == "__main__":
    main(parse_dayobs(sys.argv[1]) if len(sys.argv) > 1 else dt.date(2026, 12, 1))
