"""``vseq-services start|stop|status``: the local services behind the Dagster UI, without running anything.

After a reboot the embedded PostgreSQL server (the archive's metadata, Dagster's run storage, the
local ConsDB) is down, and ``dagster dev`` dies with "too many retries for DB connection".
``vseq-services start`` brings back what the state directory needs, and nothing else runs:

1. the embedded PostgreSQL server, when the archive, Dagster's storage or the ConsDB use it
   (nothing is started for a configured server);
2. Dagster's ``dagster`` database in it and ``<state dir>/dagster_home`` with the project's
   ``dagster.yaml`` (as ``vseq-nightly`` prepares them); the instance is opened once, so its
   tables exist and the ``rubin_scheduler`` pool has its limit;
3. the figure server (:mod:`vseq_resources.figure_server`): the store's briefing figures over
   http on 127.0.0.1 (default port 3001), which the pre-night briefing links in the UI.

It then prints what runs where (no secrets: URLs carry no password) and the exact commands that
open the UI and turn the schedules on. ``status`` prints the same and exits 3 when something
is down; ``stop`` stops the figure server and the embedded server.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from vseq_resources.config import DAGSTER_PG_URL_ENV, STORE_HTTP_URL_ENV, Settings
from vseq_resources.figure_server import DEFAULT_PORT

NOT_RUNNING = 3
"""Exit status of ``status`` when a service is down (as ``systemctl status`` and LSB scripts)."""


@dataclass(frozen=True)
class Services:
    """What the state directory's services are and whether they run."""

    state_dir: Path
    embedded_needed: bool
    embedded_pid: int | None
    archive_database: str
    dagster_storage: str
    dagster_home: Path
    figures_pid: int | None
    figures_url: str | None
    figures_store: str | None
    store: str

    @property
    def running(self) -> bool:
        return (not self.embedded_needed or self.embedded_pid is not None) and self.figures_pid is not None


def _embedded_needed(settings: Settings) -> bool:
    return (
        settings.archive.uses_embedded_database
        or settings.dagster.storage_url is None
        or settings.consdb.kind == "local"
    )


def _shown(url: str) -> str:
    """A database URL as printed: never a password (the settings refuse one; hide it anyway)."""
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def current(settings: Settings) -> Services:
    """The services of ``settings``' state directory as they are now (nothing is started)."""
    from vseq_resources import figure_server
    from vseq_resources.embedded import embedded_server_pid, embedded_url

    from .nightly import DAGSTER_DATABASE

    state_dir = settings.archive.state_dir
    embedded = embedded_url(state_dir)
    archive_db = settings.archive.database_url or embedded
    dagster_db = settings.dagster.storage_url or embedded.replace("/postgres?", f"/{DAGSTER_DATABASE}?")
    figures = figure_server.running(state_dir)
    return Services(
        state_dir=state_dir,
        embedded_needed=_embedded_needed(settings),
        embedded_pid=embedded_server_pid(state_dir),
        archive_database=_shown(archive_db),
        dagster_storage=_shown(dagster_db),
        dagster_home=state_dir / "dagster_home",
        figures_pid=figures.pid if figures else None,
        figures_url=figures.url if figures else None,
        figures_store=figures.store if figures else None,
        store=settings.archive.store_uri,
    )


def start_services(settings: Settings, *, figures_port: int = DEFAULT_PORT) -> Services:
    """Start what ``settings`` need (see the module docstring) and set, in this process,
    ``DAGSTER_HOME``, ``VSEQ_DAGSTER_PG_URL`` and ``VSEQ_STORE_HTTP_URL`` as the UI needs them."""
    from vseq_resources import figure_server

    from .nightly import dagster_storage_url, prepare_dagster_home

    state_dir = settings.archive.state_dir
    if _embedded_needed(settings):
        from vseq_resources.embedded import embedded_database_url

        embedded_database_url(state_dir)
    storage_url = dagster_storage_url(settings)
    home = prepare_dagster_home(state_dir)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ[DAGSTER_PG_URL_ENV] = storage_url
    open_instance(home)
    server = figure_server.start(state_dir, settings.archive.store_uri, port=figures_port)
    if not settings.archive.store_http_url:
        os.environ[STORE_HTTP_URL_ENV] = server.url
    return current(settings)


def serve_figures(settings: Settings, port: int = DEFAULT_PORT) -> str | None:
    """Start (or keep) the figure server for ``settings``' store and set ``VSEQ_STORE_HTTP_URL``
    in this process unless it is configured; returns the URL the figures are linked with, or None
    when no server could start (the briefing then lists the files' locations instead)."""
    from vseq_resources import figure_server

    if settings.archive.store_http_url:
        return settings.archive.store_http_url
    try:
        server = figure_server.start(settings.archive.state_dir, settings.archive.store_uri, port=port)
    except RuntimeError:
        try:  # the default port is taken (another state directory's server): any free port
            server = figure_server.start(settings.archive.state_dir, settings.archive.store_uri, port=0)
        except RuntimeError:
            return None
    os.environ[STORE_HTTP_URL_ENV] = server.url
    return server.url


def open_instance(home: Path) -> None:
    """Open the Dagster instance of ``home`` once: its storage answers, its tables exist and the
    simulations' pool has its limit (as ``dagster dev`` will find them)."""
    from dagster import DagsterInstance

    from .nightly import limit_simulation_pool

    with DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)
        limit_simulation_pool(instance)


def stop_services(settings: Settings) -> tuple[bool, bool]:
    """Stop the figure server and the embedded server; which of the two were running."""
    from vseq_resources import figure_server
    from vseq_resources.embedded import embedded_server_pid, stop_embedded_database

    state_dir = settings.archive.state_dir
    figures = figure_server.stop(state_dir)
    embedded = embedded_server_pid(state_dir) is not None
    if embedded:
        stop_embedded_database(state_dir)
    return figures, embedded


# -- the commands a user runs next ------------------------------------------------------------------


def _program(name: str) -> str:
    program = Path(sys.executable).with_name(name)
    return str(program) if program.exists() else name


def dagster_environment(services: Services, settings: Settings) -> dict[str, str]:
    """The variables the UI's processes need (none of them secret)."""
    env = {
        "DAGSTER_HOME": str(services.dagster_home),
        DAGSTER_PG_URL_ENV: settings.dagster.storage_url or services.dagster_storage,
        "VSEQ_STATE_DIR": str(services.state_dir),
    }
    http = settings.archive.store_http_url or services.figures_url
    if http:
        env[STORE_HTTP_URL_ENV] = http
    for name in ("VSEQ_PARTITIONS_START", "VSEQ_DATABASE_URL", "VSEQ_ARCHIVE_URI", "VSARCHIVE_PGSCHEMA"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def command_line(env: dict[str, str], *args: str) -> str:
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"{assignments} \\\n    {' '.join(args)}"


def describe(services: Services, settings: Settings) -> list[str]:
    """What runs where, and the commands that open the UI and start the schedules."""
    lines = []
    if services.embedded_needed:
        state = f"running (pid {services.embedded_pid})" if services.embedded_pid else "stopped"
        lines.append(f"embedded PostgreSQL: {state}, data {services.state_dir / 'pgdata'}")
    else:
        lines.append("embedded PostgreSQL: not used (the archive, Dagster and ConsDB are configured)")
    lines.append(f"  archive metadata: {services.archive_database} (schema {settings.archive.schema})")
    lines.append(f"  Dagster storage:  {services.dagster_storage}")
    if services.figures_pid:
        lines.append(
            f"figure server: running (pid {services.figures_pid}), {services.figures_url} "
            f"serving the PNG files of {services.figures_store}"
        )
    else:
        lines.append(f"figure server: stopped (would serve the PNG files of {services.store})")
    lines.append(f"DAGSTER_HOME: {services.dagster_home}")
    env = dagster_environment(services, settings)
    module = ("-m", "vseq_assets.definitions")
    lines += [
        "",
        "Open the Dagster UI (webserver and daemon), then browse http://127.0.0.1:3000:",
        "  " + command_line(env, _program("dagster"), "dev", *module, "-p", "3000"),
        "",
        "Schedules start stopped. Turn them all on (or one: its name instead of --start-all; or the",
        "toggle on the UI's Automation page; or VSEQ_SCHEDULES_RUNNING=1 before loading):",
        "  " + command_line(env, _program("dagster"), "schedule", "start", "--start-all", *module),
    ]
    return lines


# -- command line ----------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: $VSEQ_STATE_DIR."
)
def main(state_dir: Path | None) -> None:
    """Start, stop or report the local services of the Dagster UI (embedded PostgreSQL, the
    figure server); nothing is run. After a reboot: `vseq-services start`, then the printed
    `dagster dev` command."""
    if state_dir is not None:
        os.environ["VSEQ_STATE_DIR"] = str(state_dir.expanduser().resolve())


def _settings() -> Settings:
    from vseq_resources.errors import VseqError

    try:
        return Settings.from_env()
    except VseqError as err:
        raise click.ClickException(str(err)) from None


@main.command()
@click.option(
    "--figures-port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the figure server on 127.0.0.1 (0: any free port).",
)
def start(figures_port: int) -> None:
    """Start the embedded PostgreSQL server (when used) and the figure server; prepare the
    Dagster instance. Safe to repeat: what runs is kept."""
    from vseq_resources.errors import VseqError

    settings = _settings()
    try:
        services = start_services(settings, figures_port=figures_port)
    except (VseqError, RuntimeError) as err:
        raise click.ClickException(str(err)) from None
    click.echo("\n".join(describe(services, settings)))


@main.command()
def stop() -> None:
    """Stop the figure server and the embedded PostgreSQL server (stop `dagster dev` first)."""
    settings = _settings()
    figures, embedded = stop_services(settings)
    click.echo(f"figure server: {'stopped' if figures else 'was not running'}")
    click.echo(f"embedded PostgreSQL: {'stopped' if embedded else 'was not running'}")


@main.command()
def status() -> None:
    """What runs where and the commands to open the UI; exit status 3 when a service is down."""
    settings = _settings()
    services = current(settings)
    click.echo("\n".join(describe(services, settings)))
    if not services.running:
        click.echo("\nStart them with: vseq-services start", err=True)
        raise SystemExit(NOT_RUNNING)


if __name__ == "__main__":  # pragma: no cover
    main()
