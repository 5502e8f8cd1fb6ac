"""Nightly statistics and package environments.

Production batch scripts parse what these commands print, so ``add-nightly-stats`` and
``query-nightly-stats`` print exactly what the reference prints for the same archive and
arguments: pandas ``to_csv(sep="\\t", index=False)`` of the same columns, in the same order, with
the same types (``count`` as a float where the reference's ``describe`` makes it one).
"""

from __future__ import annotations

from typing import Any

import click

from .base import UUID, CliState, known_archive, pass_state

ADDED_STATS_COLUMNS = (
    "day_obs",
    "value_name",
    "count",
    "mean",
    "std",
    "min",
    "p05",
    "q1",
    "median",
    "q3",
    "p95",
    "max",
    "accumulated",
)
"""What ``add-nightly-stats`` prints: the columns of the reference's ``compute_nightly_stats``."""


@click.command("add-nightly-stats")
@click.argument("uuid", type=UUID)
@click.argument("visits_file")
@click.argument("columns", nargs=-1)
@pass_state
def add_nightly_stats(state: CliState, uuid: Any, visits_file: str, columns: tuple[str, ...]) -> None:
    """Compute per-night statistics of COLUMNS (default: altitude azimuth) of the visits in
    VISITS_FILE (visits.h5 or opsim sqlite), store them for the sequence and print each night's
    statistics as TSV. Visits with no night to describe (an empty simulation) store nothing.
    A column the visits lack is skipped with a warning on stderr; when they have none of the
    columns asked for, nothing is stored and the command fails.

    vseq also stores the statistics of every visit up to each night (vseq's own table); they are
    not printed, as the reference never computes them."""
    from ..archive import missing_stats_columns
    from .visitfiles import load_visits_file

    visits = load_visits_file(visits_file)
    archive = known_archive(state, uuid, store=False)
    stats = archive.add_nightly_stats(uuid, visits, columns=list(columns) or None)
    skipped = missing_stats_columns(visits, columns) if len(visits) else []
    if skipped:
        click.echo(
            f"vseqarchive: warning: {visits_file} has no column {', '.join(map(repr, skipped))}: no "
            "statistics of it stored",
            err=True,
        )
    nightly = stats.loc[~stats["accumulated"].astype(bool), list(ADDED_STATS_COLUMNS)]
    click.echo(nightly.astype({"count": "float64"}).to_csv(sep="\t", index=False).rstrip("\n"))


@click.command("query-nightly-stats")
@click.argument("uuid", type=UUID)
@pass_state
def query_nightly_stats(state: CliState, uuid: Any) -> None:
    """Print the nightly statistics of a sequence as TSV with a header, in the order they were
    stored (an empty line when there are none, as the reference prints)."""
    stats = known_archive(state, uuid, store=False).metadata.query_nightly_stats(uuid)
    click.echo(stats.to_csv(sep="\t", index=False).rstrip("\n") if not stats.empty else "")


@click.command("record-conda-env")
@click.option(
    "--from",
    "source",
    type=click.File("rb"),
    default=None,
    help="Record the output of 'conda list --json' saved in this file ('-': standard input) "
    "instead of this environment's.",
)
@pass_state
def record_conda_env(state: CliState, source: Any) -> None:
    """Record a package environment and print its key (hex): the SHA-256 of the exact JSON text
    of 'conda list --json', run here when conda runs this environment (else the installed Python
    distributions in that shape), or read with --from."""
    content = source.read() if source is not None else None
    click.echo(state.archive(store=False).record_package_environment(content).hex())


def register(group: click.Group) -> None:
    for command in (add_nightly_stats, query_nightly_stats, record_conda_env):
        group.add_command(command)
