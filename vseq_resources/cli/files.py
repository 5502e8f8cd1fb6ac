"""Files of sequences: archive, fetch, fetch visits in any format, verify the store."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import click

from .base import DAYOBS, UUID, CliState, known_archive, pass_state, progress_callback


@click.command("archive-file")
@click.argument("uuid", type=UUID)
@click.argument("origin")
@click.argument("file_type")
@click.option(
    "--archive-base",
    default=None,
    help="Base URI of the store to write to (default: VSEQ_ARCHIVE_URI, else the local state store).",
)
@click.option("--update", is_flag=True, help="Replace a file of this type that is already registered.")
@pass_state
def archive_file(
    state: CliState, uuid: Any, origin: str, file_type: str, archive_base: str | None, update: bool
) -> None:
    """Store ORIGIN as the FILE_TYPE file of a sequence and print its URL.

    FILE_TYPE "visits" stores visits.h5 and sets the sequence's visits URL; an opsim sqlite
    file (.db .sqlite .sqlite3 .db3) is converted to visits.h5 first (every table a key).
    """
    from .visitfiles import existing_file

    source = existing_file(origin)
    known_archive(state, uuid)
    archive = state.archive_with_store(archive_base)
    url = archive.archive_file(
        uuid, source, file_type, update=update, progress=progress_callback(f"uploading {source.name}")
    )
    click.echo(url)


@click.command("get-file")
@click.argument("uuid", type=UUID)
@click.argument("file_type")
@click.argument("destination")
@pass_state
def get_file(state: CliState, uuid: Any, file_type: str, destination: str) -> None:
    """Copy the FILE_TYPE file of a sequence to DESTINATION (a file or a directory).

    "visits" to a name ending in .db, .sqlite, .sqlite3 or .db3 is converted back to an
    opsim sqlite file. Prints what was copied (and converted).
    """
    from .visitfiles import OPSIM_SUFFIXES

    archive = state.archive()
    target = Path(destination)
    if target.is_dir():
        target = target / _stored_name(archive, uuid, file_type)
    elif not target.parent.is_dir():
        from ..errors import NotFoundError

        raise NotFoundError(f"no such directory: {target.parent}")
    url = _stored_url(archive, uuid, file_type)
    progress = progress_callback(f"downloading {target.name}")
    # The reference's two lines: the copy of visits.h5 (a temporary file), then the conversion.
    if file_type == "visits" and target.suffix.lower() in OPSIM_SUFFIXES:

        def copied(h5: Path) -> None:
            click.echo(f"Copied {url} to {h5.as_uri()}")

        archive.get_file(uuid, file_type, target, progress=progress, copied=copied)
        click.echo(f"Converted to opsim and wrote to {target}")
    else:
        archive.get_file(uuid, file_type, target, progress=progress)
        click.echo(f"Copied {url} to {Path(os.path.abspath(target)).as_uri()}")


def _stored_url(archive: Any, uuid: Any, file_type: str) -> str:
    from ..errors import NotFoundError

    if file_type == "visits":
        url = archive.metadata.get_visitseq_url(uuid)
        if not url:
            raise NotFoundError(f"sequence {uuid} has no stored visits")
        return url
    url, _ = archive.metadata.get_file(uuid, file_type)
    return url


def _stored_name(archive: Any, uuid: Any, file_type: str) -> str:
    return _stored_url(archive, uuid, file_type).rstrip("/").rsplit("/", 1)[-1]


@click.command("get-visits")
@click.argument("uuid", type=UUID)
@click.argument("destination")
@click.option("--night", "nights", type=DAYOBS, multiple=True, help="Only this night (dayobs); repeatable.")
@pass_state
def get_visits(state: CliState, uuid: Any, destination: str, nights: tuple[dt.date, ...]) -> None:
    """Write the visits of a sequence to DESTINATION: .h5, .db (opsim sqlite), .csv or .parquet."""
    from .visitfiles import write_visits_file

    target = Path(destination)
    # Refuse an unusable destination before downloading anything.
    write_check = _format_check(target)
    archive = state.archive()
    visits = archive.get_visits(uuid, nights=list(nights) or None)
    write_visits_file(visits, write_check)
    click.echo(f"Wrote {len(visits)} visits to {target}")


def _format_check(target: Path) -> Path:
    from ..errors import InvalidInputError, NotFoundError
    from .visitfiles import CSV_SUFFIXES, H5_SUFFIXES, PARQUET_SUFFIXES, opsim_suffixes

    if target.suffix.lower() not in H5_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES + opsim_suffixes():
        raise InvalidInputError(
            f"cannot tell the format of {target.name!r}: use .h5, .db (opsim sqlite), .csv or .parquet"
        )
    if not target.parent.is_dir():
        raise NotFoundError(f"no such directory: {target.parent}")
    return target


@click.command("verify")
@click.option(
    "--repair",
    is_flag=True,
    help="Remove store files that no metadata row refers to, and record the checksum of visits "
    "files that have none (written by production; trust on first use).",
)
@click.option(
    "--grace-hours",
    type=float,
    default=6.0,
    show_default=True,
    help="Never remove files younger than this (a write may be about to register them); while a "
    "write is in progress, never below 1 hour whatever is given.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only problems.")
@pass_state
def verify(state: CliState, repair: bool, grace_hours: float, quiet: bool) -> None:
    """Check the store against the metadata: checksums, missing files, files with no row.

    Exit status 1 when anything is wrong. With --repair, only files that no row refers to
    (left by interrupted writes) are removed, and visits files with no recorded checksum get
    one (from their bytes as stored now); nothing a row refers to is ever changed.
    """
    archive = state.archive()
    report = archive.verify(
        repair=repair,
        grace=dt.timedelta(hours=grace_hours),
        progress=progress_callback("verifying", unit="files"),
    )
    for line in report.lines(verbose=not quiet):
        click.echo(line)
    if not report.ok:
        raise click.exceptions.Exit(1)


def register(group: click.Group) -> None:
    for command in (archive_file, get_file, get_visits, verify):
        group.add_command(command)
