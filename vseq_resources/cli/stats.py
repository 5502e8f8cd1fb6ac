"""Nightly statistics and package environments."""

from __future__ import annotations

from typing import Any

import click

from .base import UUID, CliState, echo_frame_tsv, known_archive, pass_state


@click.command("add-nightly-stats")
@click.argument("uuid", type=UUID)
@click.argument("visits_file")
@click.argument("columns", nargs=-1)
@pass_state
def add_nightly_stats(state: CliState, uuid: Any, visits_file: str, columns: tuple[str, ...]) -> None:
    """Compute per-night statistics of COLUMNS (default: the standard set) of the visits in
    VISITS_FILE (visits.h5 or opsim sqlite), store them for the sequence and print them as TSV."""
    from .visitfiles import load_visits_file

    visits = load_visits_file(visits_file)
    archive = known_archive(state, uuid, store=False)
    stats = archive.add_nightly_stats(uuid, visits, columns=list(columns) or None)
    echo_frame_tsv(stats)


@click.command("query-nightly-stats")
@click.argument("uuid", type=UUID)
@pass_state
def query_nightly_stats(state: CliState, uuid: Any) -> None:
    """Print the nightly statistics of a sequence as TSV with a header (nothing when none)."""
    echo_frame_tsv(known_archive(state, uuid, store=False).metadata.query_nightly_stats(uuid))


@click.command("record-conda-env")
@pass_state
def record_conda_env(state: CliState) -> None:
    """Record the current package environment and print its hash (hex)."""
    click.echo(state.archive(store=False).record_package_environment().hex())


def register(group: click.Group) -> None:
    for command in (add_nightly_stats, query_nightly_stats, record_conda_env):
        group.add_command(command)
