"""Database administration and pre-night index snapshots."""

from __future__ import annotations

import datetime as dt

import click

from .base import DAYOBS, CliState, pass_state


@click.command("migrate")
@pass_state
def migrate(state: CliState) -> None:
    """Create the metadata schema, or bring it up to date (adopting a reference-created one).

    Prints what an operator must know: the adoption of a reference-created schema and its time
    zone change, the privileges given on vseq's tables, then the revision reached."""
    import logging

    from ..metadata.migrate import log as migration_log

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.echo(record.getMessage())

    handler = Echo(level=logging.INFO)
    previous = migration_log.level
    migration_log.addHandler(handler)
    migration_log.setLevel(logging.INFO)
    try:
        archive = state.archive(migrate=True, store=False)
    finally:
        migration_log.removeHandler(handler)
        migration_log.setLevel(previous)
    revision = archive.metadata.revision()
    click.echo(f"schema {archive.metadata.schema} is at revision {revision}")


@click.command("make-prenight-index")
@click.argument("dayobs", type=DAYOBS)
@click.argument("telescope", type=click.Choice(("simonyi", "auxtel")))
@click.option(
    "--destination",
    default=None,
    help="Base URI of the pre-night index (default: VSEQ_PRENIGHT_INDEX_URI, else the local state dir).",
)
@pass_state
def make_prenight_index(state: CliState, dayobs: dt.date, telescope: str, destination: str | None) -> None:
    """Write the JSON snapshot of the pre-night simulations covering DAYOBS; print its URL."""
    from ..prenight_index import write_prenight_index

    click.echo(write_prenight_index(state.archive(), dayobs, telescope, destination))


def register(group: click.Group) -> None:
    for command in (migrate, make_prenight_index):
        group.add_command(command)
