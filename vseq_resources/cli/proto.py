"""The prototype archive (``${PROTO_URI}/${DATE}/${INDEX}/sim_metadata.yaml``): import and export."""

from __future__ import annotations

from typing import Any

import click

from .base import UUID, CliState, pass_state

PROTO_ARCHIVE_URL = "s3://rubin:rubin-scheduler-prenight/opsim/"
PROTO_HELP = "Base URI of the prototype simulation archive (env VSEQ_PROTO_ARCHIVE_URI)."


@click.command("import-proto")
@click.argument("archive_base")
@click.argument("sim_date")
@click.argument("sim_index")
@click.option(
    "--proto-sim-archive-url",
    envvar="VSEQ_PROTO_ARCHIVE_URI",
    default=PROTO_ARCHIVE_URL,
    show_default=True,
    help=PROTO_HELP,
)
@pass_state
def import_proto(
    state: CliState, archive_base: str, sim_date: str, sim_index: str, proto_sim_archive_url: str
) -> None:
    """Import simulation SIM_DATE/SIM_INDEX of the prototype archive into this archive, storing its
    files under ARCHIVE_BASE; print the new UUID."""
    from ..proto import import_proto as run_import
    from .base import progress_callback

    archive = state.archive_with_store(archive_base)
    recorded = run_import(
        archive, sim_date, sim_index, proto_sim_archive_url, progress=progress_callback("importing")
    )
    click.echo(str(recorded.uuid))


@click.command("export-proto")
@click.argument("uuid", type=UUID)
@click.option(
    "--proto-sim-archive-url",
    envvar="VSEQ_PROTO_ARCHIVE_URI",
    default=PROTO_ARCHIVE_URL,
    show_default=True,
    help=PROTO_HELP,
)
@pass_state
def export_proto(state: CliState, uuid: Any, proto_sim_archive_url: str) -> None:
    """Export a sequence to the prototype archive (as opsim.db and sim_metadata.yaml); print the
    URL of the new prototype entry."""
    from ..proto import export_proto as run_export

    click.echo(run_export(state.archive(), uuid, proto_sim_archive_url))


def register(group: click.Group) -> None:
    for command in (import_proto, export_proto):
        group.add_command(command)
