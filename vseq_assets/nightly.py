"""``vseq-nightly [DAYOBS]``: run the nightly pipeline for one dayobs through Dagster, from scratch.

This module is the Dagster launcher only; what it runs lives in the library. On a machine with
nothing configured it:

1. starts the embedded PostgreSQL server (metadata archive, Dagster's storage, local ConsDB);
2. fills the local demo ConsDB with the nights up to DAYOBS that it lacks, simulated with
   rubin_scheduler's offline default survey (:mod:`vseq_resources.consdb.demo`);
3. sets up a Dagster instance under the state directory from the project's ``dagster.yaml``;
4. for each telescope, runs the completed-night job of DAYOBS (``consdb_visits`` ->
   ``completed_visits`` + ``completed_metadata``, with their checks -> ``night_review``), as its
   schedule would; the review compares the night with the pre-night simulation OF DAYOBS, which
   exists when the previous day's run (``vseq-nightly DAYOBS-1``) simulated it, and says so when
   it does not;
5. unless ``--no-prenight``, runs the pre-night job of DAYOBS+1 (``prenight_sims`` ->
   ``prenight_metadata`` -> ``prenight_index`` -> ``prenight_briefing``, with their checks),
   pre-loaded with the completed visits just archived;
6. prints what each run archived (:mod:`vseq_resources.nightly_summary`), the command that
   opens the Dagster UI on the same instance, and last the review of DAYOBS (its verdict line
   first); exits 1 if any run failed.

Whatever is configured is used instead: ``VSEQ_DATABASE_URL``/``VSARCHIVE_PG*`` (archive),
``VSEQ_ARCHIVE_URI`` (store), ``VSEQ_CONSDB_URL``/``VSEQ_CONSDB_REST_URL`` (a real ConsDB: nothing
is simulated then), ``VSEQ_DAGSTER_PG_URL`` (Dagster's storage).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from vseq_resources.config import DAGSTER_PG_URL_ENV, TELESCOPES, Settings
from vseq_resources.consdb.demo import AUXTEL_HOURS
from vseq_resources.dayobs import parse_dayobs, today_dayobs
from vseq_resources.nightly_summary import (
    NightResult,
    PrenightResult,
    completed_summary,
    prenight_summary,
    review_summary,
)

DAGSTER_DATABASE = "dagster"


# -- output -----------------------------------------------------------------------------------


class Progress:
    """Numbered steps with their duration, on stderr; results go to stdout."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.number = 0
        self.started = time.monotonic()

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        click.echo(f"[{self.number}/{self.total}] {title} ...", err=True)
        start = time.monotonic()
        yield
        click.echo(f"      done in {time.monotonic() - start:.1f} s", err=True)

    def note(self, text: str) -> None:
        click.echo(f"      {text}", err=True)


# -- instance ---------------------------------------------------------------------------------


def instance_template() -> Path:
    """The project's ``dagster.yaml``: shipped in the package, or at the repository root."""
    packaged = Path(__file__).with_name("dagster.yaml")
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[1] / "dagster.yaml"


def prepare_dagster_home(state_dir: Path) -> Path:
    """``<state dir>/dagster_home`` holding a copy of the project's ``dagster.yaml``."""
    home = state_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(instance_template(), home / "dagster.yaml")
    return home


def dagster_storage_url(settings: Settings) -> str:
    """``$VSEQ_DAGSTER_PG_URL``, else database ``dagster`` of the embedded server (created if needed)."""
    if settings.dagster.storage_url:
        return settings.dagster.storage_url
    from vseq_resources.embedded import embedded_database_url, ensure_database

    return ensure_database(embedded_database_url(settings.archive.state_dir), DAGSTER_DATABASE)


def keep_storage_connections(instance: Any) -> None:
    """Let the instance's storages keep their PostgreSQL connections for the whole command.

    dagster-postgres opens and closes a connection for every storage call by default (``NullPool``,
    so that many short-lived processes hold none): hundreds of connections for the runs of a night,
    each a new server process (the cost is in ``docs/benchmarks.md``, "Nightly pipeline"). This
    command runs everything in one process, so it keeps a small pool instead, as the Dagster
    webserver does (``optimize_for_webserver``; no statement timeout). Storages without the
    method (or without a pool to tune) are left as they are.
    """
    optimize = getattr(instance, "optimize_for_webserver", None)
    if optimize is not None:
        optimize(statement_timeout=0, pool_recycle=3600, max_overflow=10)
        check_pooled_connections(instance)


def check_pooled_connections(instance: Any) -> None:
    """Ping each pooled storage connection before use, so that a restart of the database server
    between two storage calls costs a reconnect instead of a failed run (dagster-postgres makes
    its pooled engines without ``pool_pre_ping``)."""
    import sqlalchemy as sa

    from vseq_assets.dagster_instance import ping_on_checkout

    for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
        engine = getattr(storage, "_engine", None)  # dagster-postgres has no public accessor
        if isinstance(engine, sa.Engine):
            ping_on_checkout(engine)


def lock_setup(state_dir: Path) -> Any:
    """Hold the state directory's set-up lock (an open file; closing it releases the lock).

    Two ``vseq-nightly`` started at once on a fresh state directory would both create its
    databases, fill the same ConsDB nights and create Dagster's pools; one set-up at a time makes
    the second find everything done. The lock is ``flock``: it dies with its process.
    """
    import fcntl

    state_dir.mkdir(parents=True, exist_ok=True)
    lock = open(state_dir / "vseq-nightly.lock", "a+")  # noqa: SIM115 - returned, closed by the caller
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another vseq-nightly"
        click.echo(f"      waiting for {holder} to finish setting up {state_dir} ...", err=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    lock.seek(0)
    lock.truncate()
    lock.write(f"vseq-nightly (pid {os.getpid()})")
    lock.flush()
    return lock


# -- materializing ----------------------------------------------------------------------------


def execute_partition(job: Any, night: dt.date, instance: Any) -> Any:
    """Run ``job`` for the partition of ``night`` in this process, as its schedule would run it.

    The run is tagged with this process (host, pid, start time), so that a later ``vseq-nightly``
    can tell when it was killed (:func:`~vseq_assets.dagster_instance.fail_dead_runs`). Raises
    :class:`RunInterrupted` when Ctrl-C/SIGTERM ended the run, so that nothing else starts.
    """
    import uuid

    from vseq_assets.dagster_instance import (
        LAUNCHED_BY_TAG,
        RunInterrupted,
        StoppedRun,
        interrupted,
        process_tags,
        settle_stopped_run,
    )

    run_id = str(uuid.uuid4())
    try:
        result = job.execute_in_process(
            partition_key=night.isoformat(),
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            tags={LAUNCHED_BY_TAG: "vseq-nightly", **process_tags()},
            run_id=run_id,
        )
    except Exception as err:  # Dagster's own machinery failed (its storage went away): not a step
        return StoppedRun(run_id, settle_stopped_run(instance, run_id, err))
    if interrupted(result):
        raise RunInterrupted(result.run_id)
    return result


class _Notes(logging.Handler):
    """Log records as progress notes on stderr (looked up at each record: tests swap stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"      {self.format(record)}", err=True)


def show_instance_notes() -> None:
    """Print what the instance does on its own: dead runs failed, steps waiting for a pool slot."""
    logger = logging.getLogger("vseq_assets.dagster_instance")
    if not any(isinstance(handler, _Notes) for handler in logger.handlers):
        logger.addHandler(_Notes())
        logger.setLevel(logging.INFO)
        logger.propagate = False


def materialize_night(telescope: str, night: dt.date, instance: Any, settings: Settings) -> NightResult:
    """Run the telescope's completed-night job (as its schedule would) for one partition."""
    from dagster import AssetKey

    from vseq_assets.definitions import build_definitions

    # Built now, not at import: the resources follow the settings this command has set up.
    job = build_definitions(settings).resolve_job_def(f"{telescope}_completed_night")
    result = execute_partition(job, night, instance)
    metadata: dict[str, Any] = {}
    review: dict[str, Any] = {}
    key, review_key = AssetKey([telescope, "completed_visits"]), AssetKey([telescope, "night_review"])
    for event in result.get_asset_materialization_events():
        values = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
        if event.materialization.asset_key == key:
            metadata = values
        elif event.materialization.asset_key == review_key:
            review = values
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    from vseq_assets.dagster_instance import run_error

    error = run_error(result)
    return NightResult(telescope, result.success, result.run_id, metadata, checks, error, review)


def ui_command(dagster_home: Path, storage_url: str, state_dir: Path) -> str:
    """The shell command that opens the Dagster UI on this instance, with the variables this
    command set or was given (all checked by :class:`~vseq_resources.config.Settings`: no
    password can be among them)."""
    env = {
        "DAGSTER_HOME": str(dagster_home),
        DAGSTER_PG_URL_ENV: storage_url,
        "VSEQ_STATE_DIR": str(state_dir),
    }
    shown = ("VSEQ_PARTITIONS_START", "VSEQ_DATABASE_URL", "VSEQ_ARCHIVE_URI", "VSARCHIVE_PGSCHEMA")
    for name in (*shown, "VSEQ_STORE_HTTP_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    dagster = Path(sys.executable).with_name("dagster")
    program = str(dagster) if dagster.exists() else "dagster"
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"{assignments} \\\n    {program} dev -m vseq_assets.definitions -p 3000"


PRENIGHT_VARIANTS = ("nominal",)
"""Variants vseq-nightly simulates by default (one full night each; the schedules run the full
production set). More with `--prenight-variant delay_60 --prenight-variant nominal`."""


def create_pools(instance: Any) -> None:
    """Give the ConsDB and archive pools their rows at the default limit unless they have one.

    Dagster creates a pool's row when a step first claims a slot of it, and two runs doing so at
    the same moment fail one of them (a unique violation in ``concurrency_limits``); created here,
    under :func:`lock_setup`, no run has to.
    """
    from vseq_assets.completed import ARCHIVE_POOL
    from vseq_assets.consdb import CONSDB_POOL

    storage = instance.event_log_storage
    existing = storage.get_concurrency_keys()
    for pool in (CONSDB_POOL, ARCHIVE_POOL):
        if pool not in existing:
            storage.initialize_concurrency_limit_to_default(pool)


def limit_simulation_pool(instance: Any, limit: int = 1) -> None:
    """Give the simulations' Dagster pool a limit unless one is set (``dagster instance concurrency``)."""
    from vseq_assets.prenight import SIMULATION_POOL

    storage = instance.event_log_storage
    if SIMULATION_POOL not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(SIMULATION_POOL, limit)


def materialize_prenight(
    telescope: str,
    night: dt.date,
    instance: Any,
    variants: Sequence[str],
    settings: Settings,
    hours: float | None = None,
    *,
    nights: int = 1,
    resimulate: bool = False,
) -> PrenightResult:
    """Run the telescope's pre-night job for ``night``: ``nights`` full nights (AuxTel: their
    first hours) of ``variants``, with the configured scheduler and look-back. Simulations
    archived earlier with the same inputs are reused unless ``resimulate``."""
    import dataclasses

    from dagster import AssetKey, Definitions

    from vseq_assets.definitions import prenight_definitions
    from vseq_assets.resources import build_resources
    from vseq_resources.dagster_resources import prenight_resource

    plan = dataclasses.replace(
        settings.prenight,
        nights=nights,
        variants=tuple(variants),
        duration_hours=hours if hours is not None else (AUXTEL_HOURS if telescope == "auxtel" else None),
        site_data_dir=str(settings.archive.state_dir / "site_data"),
        resimulate=resimulate,
    )
    resources = {**build_resources(settings), "prenight": prenight_resource(plan)}
    defs = Definitions.merge(
        prenight_definitions(telescope, settings.schedule), Definitions(resources=resources)
    )
    # sim_runner prints its progress on stdout, which is for the results here.
    with contextlib.redirect_stdout(sys.stderr):
        result = execute_partition(defs.resolve_job_def(f"{telescope}_prenight"), night, instance)
    metadata: dict[str, Any] = {}
    published: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        values = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
        if event.materialization.asset_key == AssetKey([telescope, "prenight_sims"]):
            metadata = values
        else:
            published[event.materialization.asset_key.path[-1]] = values
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    from vseq_assets.dagster_instance import run_error

    error = run_error(result)
    return PrenightResult(telescope, night, result.success, result.run_id, metadata, checks, error, published)


# -- command ----------------------------------------------------------------------------------


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("dayobs", required=False)
@click.option(
    "--telescope",
    "telescopes",
    multiple=True,
    type=click.Choice(TELESCOPES),
    help="Telescope to archive (repeatable; default: all).",
)
@click.option(
    "--nights",
    default=2,
    show_default=True,
    type=click.IntRange(1, 14),
    help="Nights up to DAYOBS to have in the local ConsDB (simulated when missing).",
)
@click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: $VSEQ_STATE_DIR."
)
@click.option(
    "--prenight/--no-prenight",
    default=True,
    show_default=True,
    help="Then simulate the following night (DAYOBS+1) from the archived completed visits.",
)
@click.option(
    "--prenight-variant",
    "prenight_variants",
    multiple=True,
    help=f"Pre-night variant (repeatable; default: {', '.join(PRENIGHT_VARIANTS)}).",
)
@click.option(
    "--prenight-nights",
    default=1,
    show_default=True,
    type=click.IntRange(1, 14),
    help="Nights each pre-night simulation covers, from DAYOBS+1 (the schedules' default: 3).",
)
@click.option(
    "--prenight-hours",
    type=click.FloatRange(min=0.1, max=24),
    help="Cut the pre-night simulations to this many hours (default: the whole night; AuxTel 3 h).",
)
@click.option(
    "--resimulate",
    is_flag=True,
    help="Simulate the pre-night variants again even when the archive holds simulations of the "
    "night with the same inputs (by default those are reused).",
)
def main(
    dayobs: str | None,
    telescopes: tuple[str, ...],
    nights: int,
    state_dir: Path | None,
    prenight: bool,
    prenight_variants: tuple[str, ...],
    prenight_nights: int,
    prenight_hours: float | None,
    resimulate: bool,
) -> None:
    """Archive the completed visits of DAYOBS (default: the night that just ended) via Dagster,
    then simulate the following night from them (unless --no-prenight).

    DAYOBS is YYYY-MM-DD or YYYYMMDD (the date in UTC-12).
    """
    from vseq_resources.errors import VseqError

    if state_dir is not None:
        os.environ["VSEQ_STATE_DIR"] = str(state_dir.expanduser().resolve())
    try:
        night = parse_dayobs(dayobs) if dayobs else today_dayobs() - dt.timedelta(days=1)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="DAYOBS") from None
    try:
        run(
            night,
            telescopes or TELESCOPES,
            nights,
            prenight_variants=(prenight_variants or PRENIGHT_VARIANTS) if prenight else (),
            prenight_nights=prenight_nights,
            prenight_hours=prenight_hours,
            resimulate=resimulate,
        )
    except VseqError as err:
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt as err:
        run_id = getattr(err, "run_id", None)
        stopped = f"; Dagster run {run_id} ended failed" if run_id else ""
        click.echo(f"vseq-nightly: stopped by Ctrl-C/SIGTERM{stopped}", err=True)
        raise SystemExit(130) from None


def run(
    night: dt.date,
    telescopes: Sequence[str],
    n_nights: int,
    prenight_variants: Sequence[str] = (),
    prenight_nights: int = 1,
    prenight_hours: float | None = None,
    resimulate: bool = False,
) -> list[NightResult]:
    """Run the nightly pipeline for ``night`` (see the module docstring); exits 1 if a run failed.

    The settings are read once, first: a bad variable fails here, before anything starts.
    """
    from vseq_assets.partitions import is_complete

    all_settings = Settings.from_env()
    first = all_settings.schedule.partitions_start
    if not is_complete(night.isoformat()):
        raise click.ClickException(
            f"dayobs {night} has not ended yet (it ends at {night + dt.timedelta(days=1)} 12:00 UTC)"
        )
    if night < first:
        raise click.ClickException(
            f"dayobs {night} is before the first partition {first} (set VSEQ_PARTITIONS_START)"
        )
    if prenight_variants:
        all_settings.prenight.check_scheduler()  # a bad configuration fails now, not after an hour
    settings = all_settings.archive
    state_dir = settings.state_dir
    progress = Progress(total=5 if prenight_variants else 4)
    click.echo(
        f"vseq-nightly: archiving dayobs {night} for {', '.join(telescopes)} (state in {state_dir})", err=True
    )

    setup = lock_setup(state_dir)  # released once the Dagster instance is ready
    with progress.step("Databases (embedded PostgreSQL unless configured)"):
        storage_url = dagster_storage_url(all_settings)
        if settings.uses_embedded_database:
            progress.note(f"embedded server in {state_dir / 'pgdata'}")
        from vseq_resources.archive import VisitSequenceArchive

        archive = VisitSequenceArchive.open(settings)
        progress.note(f"archive: schema {settings.schema!r}, store {settings.store_uri}")

    with progress.step("ConsDB"):
        if all_settings.consdb.kind != "local":
            progress.note("using the configured ConsDB; nothing is simulated")
        else:
            wanted = [night - dt.timedelta(days=i) for i in range(n_nights - 1, -1, -1)]
            from vseq_resources.consdb import demo

            demo.fill_local_consdb(state_dir, telescopes, wanted, progress.note)

    with progress.step("Dagster instance"):
        dagster_home = prepare_dagster_home(state_dir)
        os.environ[DAGSTER_PG_URL_ENV] = storage_url
        os.environ["DAGSTER_HOME"] = str(dagster_home)
        from dagster import DagsterInstance

        instance = DagsterInstance.get()
        keep_storage_connections(instance)
        progress.note(f"DAGSTER_HOME={dagster_home} (run storage in PostgreSQL)")
        from .services import serve_figures

        served = serve_figures(all_settings)
        progress.note(f"briefing figures served at {served or '(no free port: not served)'}")
        show_instance_notes()
        from vseq_assets.dagster_instance import fail_dead_runs

        fail_dead_runs(instance)  # each one printed
        create_pools(instance)
        if prenight_variants:
            limit_simulation_pool(instance)
    setup.close()

    results = []
    with progress.step(f"Materializing dayobs {night}"):
        for telescope in telescopes:
            progress.note(f"{telescope}: consdb_visits -> completed_visits + completed_metadata, with checks")
            results.append(materialize_night(telescope, night, instance, all_settings))

    prenight_results: list[PrenightResult] = []
    if prenight_variants:
        following = night + dt.timedelta(days=1)
        with progress.step(f"Pre-night simulations of dayobs {following} ({', '.join(prenight_variants)})"):
            for telescope in telescopes:
                progress.note(
                    f"{telescope}: pre-load the completed visits through {night}, simulate {following}, "
                    "archive each run"
                )
                start = time.monotonic()
                prenight_results.append(
                    materialize_prenight(
                        telescope,
                        following,
                        instance,
                        prenight_variants,
                        all_settings,
                        prenight_hours,
                        nights=prenight_nights,
                        resimulate=resimulate,
                    )
                )
                progress.note(f"{telescope}: done in {time.monotonic() - start:.0f} s")

    click.echo("")
    for result in results:
        click.echo("\n".join(completed_summary(result, night)))
    for prenight_result in prenight_results:
        click.echo("")
        click.echo("\n".join(prenight_summary(prenight_result)))
    click.echo("")
    click.echo("Browse the runs, assets and partitions in the Dagster UI (then open http://127.0.0.1:3000):")
    click.echo(f"  {ui_command(Path(os.environ['DAGSTER_HOME']), storage_url, state_dir)}")
    click.echo("After a reboot, start the services first (nothing runs): vseq-services start")
    click.echo("")
    click.echo(f"The review of dayobs {night} against its pre-night simulation (vseqarchive night-review):")
    for result in results:
        click.echo("\n".join(review_summary(result, night)))
    archive.metadata.close()
    if not all(result.success for result in [*results, *prenight_results]):
        raise SystemExit(1)
    return results


if __name__ == "__main__":  # pragma: no cover
    main()
