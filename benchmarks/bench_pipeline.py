"""Benchmark of the nightly pipeline: ``vseq-nightly`` for one dayobs, and where its time goes.

Run with ``.venv/bin/python benchmarks/bench_pipeline.py [--state-dir DIR] [--dayobs 2025-10-16]
[--skip-cold] [--variant NAME ...] [--sim-nights N] [--profile FILE] [--json FILE]``.
``--variant nominal --variant delay_60 --variant seeing_1.2 --sim-nights 3`` runs the schedules'
default simulations instead of vseq-nightly's single nominal night.

Two runs of the README's command (``vseq-nightly DAYOBS --state-dir DIR``: embedded PostgreSQL,
``file://`` store, local ConsDB, both telescopes, one nominal pre-night simulation each), each its
own process:

- **cold**: a fresh state directory (removed first; default ``/var/tmp/vseq-bench-pipeline``):
  the embedded server is created, the local ConsDB filled with two simulated nights up to
  DAYOBS, the site data computed; then DAYOBS is materialized;
- **warm** (the headline: what materializing one dayobs costs): the same state, another dayobs
  (DAYOBS - 1, already in the local ConsDB, never archived): its completed visits, then the
  pre-night simulation of DAYOBS.

For each run it prints the wall time, the CPU time and peak RSS of the process (``/usr/bin/time``),
the load average, the steps of every Dagster run with their durations (STEP_START ->
STEP_SUCCESS from the instance's event log, ``get_records_for_run``), the pre-night step's own
``seconds`` metadata, and a breakdown of the total:

- ``simulation`` (the rubin_scheduler ``sim_runner`` loop of the pre-night simulations), the
  figure the target is about; the overhead share is (total - simulation) / total;
- pre-loading, site data, scheduler configuration and observatory set-up, reading the opsim
  output; archiving (``record_sequence``), the index and briefing steps, checks, ConsDB, Dagster
  run launch and definitions, interpreter start-up and imports, and whatever is left.

Those inner timings come from the benchmark's child process, which wraps (never changes) the
functions named above before calling ``vseq_assets.nightly.main``; it imports
``vseq_resources.simulation.runner`` first to do so, so the rubin_scheduler import shows as
"imports" instead of inside the first step that needs it. ``--profile FILE`` re-runs the warm
dayobs under cProfile (a third run; its times are inflated) and prints the top functions.

Bytecode: this workplace sets ``PYTHONDONTWRITEBYTECODE`` (every import compiles its source, as a
``uv sync`` without ``--compile-bytecode`` under that variable leaves it); the runs use a bytecode
cache (``PYTHONPYCACHEPREFIX``, warmed once) as an ordinary installation has, unless ``--no-pyc``.
Figures and target (issue 8: overhead under 20 % of the total): ``docs/benchmarks.md``,
"4. Nightly pipeline".
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_STATE_DIR = Path("/var/tmp/vseq-bench-pipeline")
DEFAULT_DAYOBS = "2025-10-16"
PYCACHE = Path(tempfile.gettempdir()) / "vseq-bench-pycache"
TIME = "/usr/bin/time"
SIM_SECONDS = re.compile(r" ([\w.]+): (\d+) visits in (\d+) s, archived as ")


# -- the child: vseq-nightly with timers ----------------------------------------------------------


class Timers:
    """Wall and CPU seconds of wrapped calls, by phase (the run or setup step they happen in)."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.records: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str | None = None, phase: Any = None) -> None:
        """Replace ``owner.name`` by a timed wrapper (``phase(args)`` names the phase it opens)."""
        if isinstance(owner, type):
            raw = next(klass.__dict__[name] for klass in owner.__mro__ if name in klass.__dict__)
        else:
            raw = getattr(owner, name)
        kind = type(raw) if isinstance(raw, classmethod | staticmethod) else None
        function = raw.__func__ if kind else raw
        label = label or name
        timers = self

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            outer = timers.phase
            if phase is not None:
                timers.phase = phase(args)
            wall, cpu, epoch = time.perf_counter(), time.process_time(), time.time()
            try:
                return function(*args, **kwargs)
            finally:
                timers.records.append(
                    {
                        "phase": timers.phase,
                        "label": label,
                        "start": epoch,
                        "wall": time.perf_counter() - wall,
                        "cpu": time.process_time() - cpu,
                    }
                )
                timers.phase = outer

        setattr(owner, name, kind(timed) if kind else timed)


def child(out: Path, argv: list[str]) -> None:
    """Run ``vseq-nightly argv`` in this process with timers; write what they saw to ``out``."""
    entered = time.time()
    report: dict[str, Any] = {"entered": entered}
    timers = Timers()
    started, cpu_started = time.perf_counter(), time.process_time()
    import dagster
    from dagster import DagsterInstance, JobDefinition

    import vseq_assets.definitions as definitions
    import vseq_assets.nightly as nightly
    import vseq_resources.briefing as briefing
    import vseq_resources.consdb.demo as demo
    import vseq_resources.prenight as prenight
    import vseq_resources.prenight_index as prenight_index
    import vseq_resources.simulation.runner as runner
    from vseq_resources.archive import VisitSequenceArchive

    report["imports"] = time.perf_counter() - started
    report["imports_cpu"] = time.process_time() - cpu_started
    by_telescope = {
        "materialize_night": lambda a: f"completed {a[0]}",
        "materialize_prenight": lambda a: f"prenight {a[0]}",
    }
    for name in ("dagster_storage_url", "prepare_dagster_home", "limit_simulation_pool"):
        timers.wrap(nightly, name)
    timers.wrap(demo, "simulate_night")
    timers.wrap(demo, "fill_local_consdb", phase=lambda a: "consdb fill")
    for name, phase in by_telescope.items():
        timers.wrap(nightly, name, phase=phase)
    timers.wrap(VisitSequenceArchive, "open", "archive open")
    timers.wrap(DagsterInstance, "get", "DagsterInstance.get")
    timers.wrap(definitions, "build_definitions")
    timers.wrap(definitions, "prenight_definitions")
    for name in ("sim_runner", "preload_visits", "prepare_site_data", "load_scheduler_config"):
        timers.wrap(runner, name)
    timers.wrap(runner, "_observatory", "observatory")
    timers.wrap(runner, "_read_tables", "read opsim output")
    timers.wrap(runner, "run_simulations")
    timers.wrap(prenight, "gather_completed_visits")
    timers.wrap(prenight, "archive_simulation")
    timers.wrap(prenight, "record_mixed")
    timers.wrap(VisitSequenceArchive, "record_sequence")
    timers.wrap(VisitSequenceArchive, "record_package_environment")
    timers.wrap(briefing, "build_briefing")
    timers.wrap(prenight_index, "write_prenight_index")

    original_execute = JobDefinition.execute_in_process

    @functools.wraps(original_execute)
    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        wall, cpu, epoch = time.perf_counter(), time.process_time(), time.time()
        result = original_execute(self, *args, **kwargs)
        timers.runs.append(
            {
                "job": self.name,
                "run_id": result.run_id,
                "start": epoch,
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
                "phase": timers.phase,
            }
        )
        return result

    JobDefinition.execute_in_process = execute  # type: ignore[method-assign]
    report["dagster_version"] = dagster.__version__
    status = 0
    main_started = time.perf_counter()
    try:
        nightly.main(argv, standalone_mode=False)
    except SystemExit as err:
        status = int(err.code or 0)
    finally:
        report["main"] = time.perf_counter() - main_started
        report["finished"] = time.time()
        report["cpu"] = time.process_time()
        report["records"] = timers.records
        report["runs"] = timers.runs
        report["dagster_home"] = os.environ.get("DAGSTER_HOME")
        report["dagster_pg_url"] = os.environ.get(nightly.DAGSTER_PG_URL_ENV)
        out.write_text(json.dumps(report, default=str))
    sys.exit(status)


def profiled_child(profile: Path, out: Path, argv: list[str]) -> None:
    import cProfile

    profiler = cProfile.Profile()
    try:
        profiler.runcall(child, out, argv)
    finally:
        profiler.dump_stats(profile)


# -- the parent: run, read the event log, summarise ----------------------------------------------


def child_env(pyc: bool) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if pyc:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def warm_bytecode(env: dict[str, str]) -> None:
    """Compile the modules a run imports once, so that the measured runs find their bytecode."""
    modules = "vseq_assets.definitions, vseq_assets.nightly, vseq_resources.simulation.runner, "
    modules += "vseq_resources.briefing, vseq_resources.consdb.local, dagster_postgres, matplotlib.pyplot"
    subprocess.run([sys.executable, "-c", f"import {modules}"], env=env, check=True, cwd=REPO)


def run_child(
    label: str, argv: list[str], env: dict[str, str], workdir: Path, profile: Path | None = None
) -> dict[str, Any]:
    """One ``vseq-nightly`` process: wall, CPU, peak RSS, load and the child's timers."""
    out = workdir / f"{label}.json"
    timing = workdir / f"{label}.time"
    log = workdir / f"{label}.log"
    mode = ["--profile-child", str(profile)] if profile else ["--child"]
    command = [TIME, "-f", "%e %U %S %M", "-o", str(timing)]
    command += [sys.executable, str(Path(__file__).resolve()), *mode, str(out), "--", *argv]
    load_before = os.getloadavg()
    print(f"\n######## {label}: vseq-nightly {' '.join(argv)}  (log {log})", flush=True)
    spawned = time.time()
    started = time.perf_counter()
    with log.open("w") as stream:
        done = subprocess.run(command, env=env, cwd=REPO, stdout=stream, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()
    elapsed, user, system, rss_kb = timing.read_text().split()[-4:]
    if done.returncode:
        tail = log.read_text().splitlines()[-15:]
        raise RuntimeError(f"{label} run failed ({done.returncode}):\n" + "\n".join(tail))
    report = json.loads(out.read_text())
    report |= {
        "label": label,
        "argv": argv,
        "spawned": spawned,
        "wall": wall,
        "cpu_user": float(user),
        "cpu_system": float(system),
        "peak_rss_mb": int(rss_kb) / 1024,
        "load_before": load_before,
        "load_after": load_after,
    }
    return report


def read_event_log(report: dict[str, Any]) -> None:
    """Each Dagster run's steps (STEP_START -> STEP_SUCCESS) and the pre-night step's ``seconds``."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = report["dagster_home"]
    os.environ["VSEQ_DAGSTER_PG_URL"] = report["dagster_pg_url"]
    kinds = {
        DagsterEventType.RUN_START,
        DagsterEventType.RUN_SUCCESS,
        DagsterEventType.RUN_FAILURE,
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.ASSET_MATERIALIZATION,
    }
    with DagsterInstance.get() as instance:
        for run in report["runs"]:
            records = instance.get_records_for_run(run["run_id"], of_type=kinds, limit=10_000).records
            steps: dict[str, dict[str, float]] = {}
            run["event_seconds"] = {}
            for record in records:
                entry = record.event_log_entry
                event = entry.dagster_event
                kind = event.event_type
                if kind == DagsterEventType.RUN_START:
                    run["run_start"] = entry.timestamp
                elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
                    run["run_end"] = entry.timestamp
                elif kind == DagsterEventType.STEP_START:
                    steps.setdefault(event.step_key, {})["start"] = entry.timestamp
                elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                    steps.setdefault(event.step_key, {})["end"] = entry.timestamp
                elif kind == DagsterEventType.ASSET_MATERIALIZATION:
                    metadata = event.event_specific_data.materialization.metadata
                    if "seconds" in metadata:
                        run["event_seconds"] = dict(metadata["seconds"].value)
            run["steps"] = {
                key: {**times, "seconds": times.get("end", times.get("start", 0)) - times.get("start", 0)}
                for key, times in sorted(steps.items(), key=lambda item: item[1].get("start", 0))
            }
            # The runner's own figure per variant, as the step logged it ("... visits in N s").
            logs = instance.all_logs(run["run_id"])
            run["simulation_seconds_logged"] = {
                m.group(1): int(m.group(3))
                for entry in logs
                if entry.user_message and (m := SIM_SECONDS.search(entry.user_message))
            }


def total(report: dict[str, Any], label: str, phase_prefix: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of every call of ``label`` (optionally only in phases with a prefix)."""
    chosen = [
        r
        for r in report["records"]
        if r["label"] == label and (phase_prefix is None or r["phase"].startswith(phase_prefix))
    ]
    return sum(r["wall"] for r in chosen), sum(r["cpu"] for r in chosen)


def breakdown(report: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    """(what, wall seconds, CPU seconds) adding up to the total wall time of the run."""
    rows: list[tuple[str, float, float | None]] = []
    wall = report["wall"]
    startup = report["entered"] - report["spawned"]
    rows.append(("interpreter start-up (spawn -> benchmark child entry)", startup, None))
    imports = "imports (dagster, vseq, rubin_scheduler: eager in the child)"
    rows.append((imports, report["imports"], report["imports_cpu"]))
    accounted = startup + report["imports"]

    def add(what: str, seconds: float, cpu: float | None = None) -> None:
        nonlocal accounted
        rows.append((what, seconds, cpu))
        accounted += seconds

    add(
        "databases (embedded server, dagster database, archive open)",
        *_sum(report, "dagster_storage_url", "archive open"),
    )
    consdb_wall, consdb_cpu = total(report, "fill_local_consdb")
    consdb_sim, consdb_sim_cpu = total(report, "simulate_night")
    add(
        "local ConsDB: check/create schema, nights present",
        consdb_wall - consdb_sim,
        consdb_cpu - consdb_sim_cpu,
    )
    if consdb_sim:
        add("local ConsDB: simulating missing nights (cold set-up only)", consdb_sim, consdb_sim_cpu)
    add(
        "Dagster instance (home, DagsterInstance.get, pool limit)",
        *_sum(report, "prepare_dagster_home", "DagsterInstance.get", "limit_simulation_pool"),
    )
    for family in ("completed", "prenight"):
        materialize = "materialize_night" if family == "completed" else "materialize_prenight"
        m_wall, m_cpu = total(report, materialize)
        runs = [r for r in report["runs"] if r["phase"].startswith(family)]
        r_wall = sum(r["wall"] for r in runs)
        r_cpu = sum(r["cpu"] for r in runs)
        add(f"{family}: definitions, results (outside execute_in_process)", m_wall - r_wall, m_cpu - r_cpu)
        steps = [s for r in runs for s in r.get("steps", {}).values()]
        s_wall = sum(s["seconds"] for s in steps)
        add(f"{family}: Dagster run launch/teardown (run minus its steps)", r_wall - s_wall)
        if family == "completed":
            add("completed: steps (ConsDB query, archive, checks)", s_wall)
            continue
        for run in runs:
            for key, step in run.get("steps", {}).items():
                if key.endswith("prenight_simulations"):
                    sims_step = step["seconds"]
                    prefix = f"prenight {run['job'].split('_')[0]}"
                    parts = {
                        "gather completed visits (archive read)": total(
                            report, "gather_completed_visits", prefix
                        ),
                        "package environment record": total(report, "record_package_environment", prefix),
                        "site data": total(report, "prepare_site_data", prefix),
                        "scheduler configuration": total(report, "load_scheduler_config", prefix),
                        "observatory set-up (probe + per variant)": total(report, "observatory", prefix),
                        "pre-loading completed visits": total(report, "preload_visits", prefix),
                        "SIMULATION (sim_runner loop)": total(report, "sim_runner", prefix),
                        "reading the opsim output": total(report, "read opsim output", prefix),
                        "archiving (record_sequence, simulations + mixed)": total(
                            report, "record_sequence", prefix
                        ),
                    }
                    inner = 0.0
                    for what, (seconds, cpu) in parts.items():
                        add(f"  {run['job']}: {what}", seconds, cpu)
                        inner += seconds
                    add(f"  {run['job']}: rest of the simulation step", sims_step - inner)
                else:
                    add(f"  {run['job']}: step {key}", step["seconds"])
    add("everything else (printing, shutdown, process exit, unaccounted)", wall - accounted)
    return rows


def _sum(report: dict[str, Any], *labels: str) -> tuple[float, float]:
    walls, cpus = zip(*(total(report, label) for label in labels), strict=True)
    return sum(walls), sum(cpus)


def simulation_seconds(report: dict[str, Any]) -> tuple[float, float]:
    """Wall and CPU of the pre-night simulations' sim_runner loops."""
    return total(report, "sim_runner", "prenight")


def print_report(report: dict[str, Any]) -> dict[str, Any]:
    wall = report["wall"]
    cpu = report["cpu_user"] + report["cpu_system"]
    sim, sim_cpu = simulation_seconds(report)
    preload, _ = total(report, "preload_visits", "prenight")
    overhead = (wall - sim) / wall
    overhead_cpu = (cpu - sim_cpu) / cpu
    load = "/".join(f"{x:.1f}" for x in report["load_before"])
    load_after = "/".join(f"{x:.1f}" for x in report["load_after"])
    print(f"\n{report['label']}: vseq-nightly {' '.join(report['argv'])}")
    print(
        f"  total {wall:6.1f} s wall, {cpu:6.1f} s CPU (user {report['cpu_user']:.1f} + sys "
        f"{report['cpu_system']:.1f}), peak RSS {report['peak_rss_mb']:.0f} MB; load average "
        f"{load} before, {load_after} after"
    )
    print(f"  pre-night simulation proper (sim_runner): {sim:6.1f} s wall, {sim_cpu:6.1f} s CPU")
    print(f"  pre-loading:                              {preload:6.1f} s wall")
    print(
        f"  overhead share (total - simulation) / total: {overhead:.0%} of the wall time, "
        f"{overhead_cpu:.0%} of the CPU time  [target < 20 %]"
    )
    consdb_sim, _ = total(report, "simulate_night")
    if consdb_sim:
        share = (wall - sim - consdb_sim) / (wall - consdb_sim)
        print(
            f"  without the local ConsDB's own simulations ({consdb_sim:.1f} s): overhead share {share:.0%}"
        )
    print("  Dagster runs (event log: run and step durations):")
    for run in report["runs"]:
        span = run.get("run_end", 0) - run.get("run_start", 0)
        print(f"    {run['job']:28s} execute_in_process {run['wall']:5.1f} s (RUN_START->end {span:5.1f} s)")
        for key, step in run.get("steps", {}).items():
            print(f"      {key:44s} {step['seconds']:6.2f} s")
        if run.get("event_seconds"):
            print(f"      prenight 'seconds' metadata: {run['event_seconds']}")
        if run.get("simulation_seconds_logged"):
            print(f"      logged simulation seconds (runner timings): {run['simulation_seconds_logged']}")
    rows = breakdown(report)
    print("  where the wall time goes:")
    for what, seconds, cpu in rows:
        cpu_text = f"{cpu:6.1f} s CPU" if cpu is not None else ""
        print(f"    {what:76s} {seconds:6.1f} s {seconds / wall:4.0%}  {cpu_text}")
    return {
        "label": report["label"],
        "argv": report["argv"],
        "wall": wall,
        "cpu": cpu,
        "peak_rss_mb": report["peak_rss_mb"],
        "load_before": report["load_before"],
        "load_after": report["load_after"],
        "simulation_wall": sim,
        "simulation_cpu": sim_cpu,
        "preload_wall": preload,
        "overhead_share": overhead,
        "overhead_share_cpu": overhead_cpu,
        "breakdown": rows,
        "runs": report["runs"],
    }


def import_times(env: dict[str, str]) -> tuple[float, list[tuple[str, float]]]:
    """Import time of the modules a run needs (s) and the top packages by own (self) import time."""
    modules = "vseq_assets.nightly, vseq_assets.definitions, vseq_resources.simulation.runner, "
    modules += "vseq_resources.consdb.local, vseq_resources.briefing"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {modules}"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    own: dict[str, float] = {}
    overall = 0.0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        top = name.strip().split(".")[0]
        own[top] = own.get(top, 0.0) + int(parts[0].split(":")[-1]) / 1e6
        if len(name) - len(name.lstrip()) == 1:  # imported by the command itself
            overall += int(parts[1]) / 1e6
    return overall, sorted(own.items(), key=lambda item: -item[1])[:15]


def print_profile(profile: Path) -> None:
    import pstats

    print(f"\n######## cProfile of the warm run ({profile}), top 25 by cumulative time")
    stats = pstats.Stats(str(profile))
    stats.sort_stats("cumulative").print_stats(25)


def stop_server(state_dir: Path) -> None:
    from vseq_resources.embedded import stop_embedded_database

    stop_embedded_database(state_dir)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] in ("--child", "--profile-child"):
        separator = sys.argv.index("--")
        if sys.argv[1] == "--child":
            child(Path(sys.argv[2]), sys.argv[separator + 1 :])
        else:
            profiled_child(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[separator + 1 :])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument(
        "--dayobs", default=DEFAULT_DAYOBS, help="dayobs of the cold run (warm: the day before)"
    )
    parser.add_argument("--skip-cold", action="store_true", help="reuse the state directory as it is")
    parser.add_argument("--no-pyc", action="store_true", help="no bytecode cache (every import compiles)")
    parser.add_argument(
        "--profile", type=Path, help="also profile a re-run of the warm dayobs into this file"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="pre-night variant (repeatable; default vseq-nightly's: nominal; the schedules run "
        "nominal, delay_60 and seeing_1.2)",
    )
    parser.add_argument(
        "--sim-nights",
        type=int,
        default=1,
        help="nights each pre-night simulation covers (default vseq-nightly's: 1; the schedules': 3)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from vseq_resources.dayobs import parse_dayobs

    night = parse_dayobs(args.dayobs)
    variants = [option for name in args.variant for option in ("--prenight-variant", name)]
    variants += ["--prenight-nights", str(args.sim_nights)]
    state_dir = args.state_dir.expanduser().resolve()
    env = child_env(pyc=not args.no_pyc)
    env.pop("VSEQ_DATABASE_URL", None)  # embedded defaults, as the README runs it
    env.pop("VSEQ_DAGSTER_PG_URL", None)
    env.pop("DAGSTER_HOME", None)
    if not args.no_pyc:
        warm_bytecode(env)
    workdir = Path(tempfile.mkdtemp(prefix="vseq-bench-pipeline-", dir="/var/tmp"))
    print(f"state directory {state_dir}; logs in {workdir}; bytecode {'none' if args.no_pyc else PYCACHE}")
    results: dict[str, Any] = {}
    try:
        if not args.skip_cold:
            if state_dir.exists():
                stop_server(state_dir)
                shutil.rmtree(state_dir)
            cold_argv = [night.isoformat(), "--state-dir", str(state_dir), *variants]
            cold = run_child("cold", cold_argv, env, workdir)
            read_event_log(cold)
            results["cold"] = cold
        warm_night = night - dt.timedelta(days=1)
        warm_argv = [warm_night.isoformat(), "--nights", "1", "--state-dir", str(state_dir), *variants]
        warm = run_child("warm", warm_argv, env, workdir)
        read_event_log(warm)
        results["warm"] = warm
        summaries = {label: print_report(report) for label, report in results.items()}
        overall, imports = import_times(env)
        print(
            f"\n######## imports (-X importtime) of what a run needs: {overall:.1f} s; own time by package:"
        )
        for name, seconds in imports:
            print(f"    {name:28s} {seconds:5.2f} s")
        if args.profile:
            run_child("profiled", warm_argv, env, workdir, profile=args.profile)
            print_profile(args.profile)
    finally:
        stop_server(state_dir)
    if args.json:
        payload = {"summaries": summaries, "imports": imports, "bytecode": not args.no_pyc}
        args.json.write_text(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
