"""Reviews of archived nights: ``night-review``."""

from __future__ import annotations

import datetime as dt

import click

from .base import DAYOBS, CliState, pass_state

TELESCOPE_CHOICES = ("simonyi", "auxtel")


@click.command("night-review")
@click.argument("dayobs", type=DAYOBS)
@click.option(
    "--telescope",
    type=click.Choice(TELESCOPE_CHOICES),
    default="simonyi",
    show_default=True,
    help="Telescope.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every number of the review as JSON.")
@pass_state
def night_review(state: CliState, dayobs: dt.date, telescope: str, as_json: bool) -> None:
    """Print the review of night DAYOBS: its completed visits against its pre-night simulation.

    The first line is the verdict; then visits per band and per hour, planned and observed, the
    start, gaps and time lost, the planned visits observed and their drift, the variant that best
    explains the night, twilights and the Moon, and the URLs of the review's figures when the
    night_review asset archived them. Computed from the archive as the asset computes it (the
    night's newest completed sequence; the pre-night partition's own nominal simulation and the
    other variants of its run). Fails when the night has no completed sequence.
    """
    import json

    from ..night_review import FIGURE_FILE_PREFIX
    from ..readers import ArchiveReader, load_partition

    archive = state.archive()
    reader = ArchiveReader.for_archive(archive)
    review = load_partition(f"{telescope}/night_review", dayobs, reader=reader)
    files = archive.metadata.get_files(review.completed_uuid) if review.completed_uuid else {}
    figures = {
        name[len(FIGURE_FILE_PREFIX) :]: url
        for name, (url, _) in files.items()
        if name.startswith(FIGURE_FILE_PREFIX)
    }
    if as_json:
        click.echo(json.dumps({**review.numbers(), "figures": figures}, indent=2, default=str))
        return
    click.echo("\n".join(review.text()))
    for name, url in sorted(figures.items()):
        click.echo(f"  figure    {name}: {url}")


def register(group: click.Group) -> None:
    group.add_command(night_review)
