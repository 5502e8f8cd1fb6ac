"""Sequence rows: record, read, update; ``show`` and ``search`` for people."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from .base import (
    DAYOBS,
    UUID,
    CliState,
    echo_tsv,
    format_value,
    known_archive,
    parse_creation_time,
    pass_state,
)

TELESCOPE_CHOICES = ("simonyi", "auxtel")


@click.command("record-visitseq-metadata")
@click.argument("table")
@click.argument("visits_file")
@click.argument("label")
@click.option("--telescope", default="simonyi", show_default=True, help="Telescope (simonyi or auxtel).")
@click.option("--url", default=None, help="URL of the visits file, when it is stored elsewhere.")
@click.option(
    "--first_day_obs",
    "--first-day-obs",
    "first_day_obs",
    type=DAYOBS,
    default=None,
    help="First night (dayobs).",
)
@click.option(
    "--last_day_obs", "--last-day-obs", "last_day_obs", type=DAYOBS, default=None, help="Last night (dayobs)."
)
@click.option(
    "--creation_time",
    "--creation-time",
    "creation_time",
    default=None,
    help="ISO creation time (no zone = UTC).",
)
@pass_state
def record_visitseq_metadata(
    state: CliState,
    table: str,
    visits_file: str,
    label: str,
    telescope: str,
    url: str | None,
    first_day_obs: dt.date | None,
    last_day_obs: dt.date | None,
    creation_time: str | None,
) -> None:
    """Record a new visit sequence from VISITS_FILE (visits.h5 or opsim sqlite); print its UUID.

    Only the metadata is recorded (content hash, label, night range); store the visits with
    "archive-file UUID FILE visits". TABLE is simulations, completed or mixedvisitseq.
    """
    from ..archive import check_table, check_telescope
    from .visitfiles import load_visits_file

    check_table(table)
    check_telescope(telescope)
    when = parse_creation_time(creation_time)
    visits = load_visits_file(visits_file)
    archive = state.archive(store=False)
    recorded = archive.record_sequence(
        table,
        visits,
        label=label,
        telescope=telescope,
        first_day_obs=first_day_obs,
        last_day_obs=last_day_obs,
        creation_time=when,
        store_visits=False,
        visitseq_url=url,
        nightly_stats=False,
    )
    click.echo(str(recorded.uuid))


@click.command("get-visitseq-metadata")
@click.argument("uuid", type=UUID)
@click.option(
    "--table",
    default="visitseq",
    show_default=True,
    help="Table to read (visitseq, simulations, completed, mixedvisitseq, simulations_extra).",
)
@pass_state
def get_visitseq_metadata(state: CliState, uuid: Any, table: str) -> None:
    """Print the metadata of a sequence as a one-row TSV with a header (hashes in hex)."""
    archive = state.archive(store=False)
    if table == "simulations_extra":
        meta = archive.metadata.simulation_metadata(uuid)
    else:
        meta = archive.get_metadata(uuid, table)
    columns = list(meta.keys())
    echo_tsv(columns, [[meta[c] for c in columns]])


@click.command("set-visitseq-url")
@click.argument("uuid", type=UUID)
@click.argument("url")
@pass_state
def set_visitseq_url(state: CliState, uuid: Any, url: str) -> None:
    """Set the URL of the visits of a sequence (stored elsewhere)."""
    known_archive(state, uuid, store=False).metadata.set_visitseq_url(uuid, url)


@click.command("get-visitseq-url")
@click.argument("uuid", type=UUID)
@pass_state
def get_visitseq_url(state: CliState, uuid: Any) -> None:
    """Print the URL of the visits of a sequence (nothing when they are not stored)."""
    url = state.archive(store=False).metadata.get_visitseq_url(uuid)
    if url:
        click.echo(url)


@click.command("update-visitseq-metadata")
@click.argument("uuid", type=UUID)
@click.argument("field")
@click.argument("value")
@pass_state
def update_visitseq_metadata(state: CliState, uuid: Any, field: str, value: str) -> None:
    """Set one metadata FIELD of a sequence to VALUE (hex for *sha256 fields)."""
    state.archive(store=False).metadata.update_metadata(uuid, field, convert_field_value(field, value))


def convert_field_value(field: str, value: str) -> Any:
    """Text from the shell as the Python value of a column, judged by the column's name."""
    import json

    from ..archive import as_uuid
    from ..dayobs import parse_dayobs
    from ..errors import InvalidInputError

    if field.endswith("sha256"):
        try:
            return bytes.fromhex(value.strip())
        except ValueError:
            raise InvalidInputError(f"{field} takes a hexadecimal value, not {value!r}") from None
    if field.endswith("uuid"):
        return as_uuid(value)
    if field.endswith("day_obs"):
        return parse_dayobs(value)
    if field == "creation_time":
        return parse_creation_time(value)
    if field == "sim_runner_kwargs":
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"sim_runner_kwargs takes JSON: {err}") from None
    return value


@click.command("show")
@click.argument("uuid", type=UUID)
@pass_state
def show(state: CliState, uuid: Any) -> None:
    """Show one sequence with its tags, comments, files and nightly statistics (stored text that
    could mislead shown escaped, as by search)."""
    from ..text import displayed
    from .base import records_of

    archive = state.archive(store=False)
    md = archive.metadata
    meta = md.get_metadata(uuid)
    tags = md.get_tags(uuid)
    comments = records_of(md.get_comments(uuid))
    files = md.get_files(uuid)
    stats = records_of(md.query_nightly_stats(uuid, include_accumulated=True))

    width = max(len(k) for k in meta)
    click.secho(f"visit sequence {uuid}", bold=True)
    for key, value in meta.items():
        click.echo(f"  {key:<{width}}  {format_value(value)}")
    click.secho("tags", bold=True)
    click.echo("  " + (" ".join(displayed(t, keep="") for t in sorted(tags)) if tags else "(none)"))
    click.secho("files", bold=True)
    if meta.get("visitseq_url"):
        click.echo(f"  {'visits':<12} {displayed(meta['visitseq_url'], keep='')}")
    for file_type, url in sorted(dict(files).items()):
        click.echo(f"  {displayed(file_type, keep=''):<12} {displayed(_file_url(url), keep='')}")
    if not files and not meta.get("visitseq_url"):
        click.echo("  (none)")
    click.secho("comments", bold=True)
    for row in comments:
        author = displayed(row.get("author") or "anonymous", keep="")
        click.echo(f"  {format_value(row.get('comment_time'))} {author}: {format_value(row.get('comment'))}")
    if not comments:
        click.echo("  (none)")
    click.secho("nightly statistics", bold=True)
    if stats:
        columns = ["day_obs", "value_name", "accumulated", "count", "mean", "std", "min", "median", "max"]
        rows = [[_short(row.get(c)) for c in columns] for row in stats]
        click.echo(_table(columns, rows, indent="  "))
    else:
        click.echo("  (none)")


def _file_url(value: Any) -> str:
    """``get_files`` may map a file type to a URL or to a (url, sha256) pair."""
    if isinstance(value, tuple | list):
        return str(value[0])
    if isinstance(value, dict):
        return str(value.get("file_url") or value.get("url"))
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return format_value(value)


def _table(columns: list[str], rows: list[list[str]], indent: str = "") -> str:
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    lines = [indent + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append(indent + "  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(indent + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


SEARCH_COLUMNS = (
    "visitseq_uuid",
    "table",
    "telescope",
    "first_day_obs",
    "last_day_obs",
    "creation_time",
    "tags",
    "visitseq_label",
)


@click.command("search")
@click.option("--telescope", type=click.Choice(TELESCOPE_CHOICES), default=None, help="Only this telescope.")
@click.option("--night", type=DAYOBS, default=None, help="Sequences covering this night (dayobs).")
@click.option(
    "--from", "first", type=DAYOBS, default=None, help="Sequences covering a night from this dayobs..."
)
@click.option("--to", "last", type=DAYOBS, default=None, help="...through this dayobs.")
@click.option("--tag", "tags", multiple=True, help="Carrying this tag (repeat for several: all required).")
@click.option(
    "--kind", type=click.Choice(("simulations", "completed", "mixedvisitseq")), default=None, help="Kind."
)
@click.option("--label", default=None, help="Label containing this text (case-insensitive).")
@click.option("--max-age", type=float, default=None, help="Created at most this many days ago.")
@click.option("--limit", type=int, default=50, show_default=True, help="Only the newest N (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of objects) for scripts.")
@pass_state
def search(
    state: CliState,
    telescope: str | None,
    night: dt.date | None,
    first: dt.date | None,
    last: dt.date | None,
    tags: tuple[str, ...],
    kind: str | None,
    label: str | None,
    max_age: float | None,
    limit: int,
    as_json: bool,
) -> None:
    """Find visit sequences; a readable table by default, JSON with --json.

    Stored text that could mislead (controls, bidirectional controls, nothing visible) is shown
    escaped (\\u202e), as is a newline or tab in the table."""
    import json

    from ..errors import InvalidInputError
    from ..text import displayed
    from .base import records_of

    if night is not None and (first is not None or last is not None):
        raise InvalidInputError("give either --night or --from/--to, not both")
    if first is not None and last is not None and first > last:
        raise InvalidInputError(f"--from {first} is after --to {last}")
    if limit < 0:
        raise InvalidInputError("--limit must be 0 (all) or more")
    if max_age is not None and max_age < 0:
        raise InvalidInputError("--max-age must not be negative")
    found = records_of(
        state.archive(store=False).metadata.search(
            telescope=telescope,
            day_obs=night,
            first_day_obs=first,
            last_day_obs=last,
            tags=tags,
            table=kind or "visitseq",
            label=label,
            max_age=max_age,
        )
    )
    if limit:
        found = found[-limit:]
    if as_json:
        click.echo(json.dumps([{k: _jsonable(v) for k, v in row.items()} for row in found], indent=2))
        return
    if not found:
        click.echo("no matching visit sequences", err=True)
        return
    columns = [c for c in SEARCH_COLUMNS if c in found[0]]
    rows = []
    for row in found:
        cells = []
        for c in columns:
            value = row.get(c)
            if c == "tags" and isinstance(value, list | tuple):
                text = ",".join(displayed(str(tag), keep="") for tag in value)
            elif c == "creation_time" and isinstance(value, dt.datetime):
                text = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
            else:
                text = displayed(format_value(value), keep="")  # one table row per sequence
            if c == "visitseq_label" and len(text) > 60:
                text = text[:57] + "..."
            cells.append(text)
        rows.append(cells)
    headers = [
        {
            "visitseq_uuid": "uuid",
            "table": "kind",
            "visitseq_label": "label",
            "first_day_obs": "first",
            "last_day_obs": "last",
            "creation_time": "created (UTC)",
        }.get(c, c)
        for c in columns
    ]
    click.echo(_table(headers, rows))


def _jsonable(value: Any) -> Any:
    import uuid as uuidlib

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuidlib.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return str(value)


def register(group: click.Group) -> None:
    for command in (
        record_visitseq_metadata,
        get_visitseq_metadata,
        set_visitseq_url,
        get_visitseq_url,
        update_visitseq_metadata,
        show,
        search,
    ):
        group.add_command(command)
