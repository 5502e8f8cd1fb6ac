"""The ``vseqarchive`` group: connection options, the archive opened on demand, error reporting.

Every deliberate failure (``VseqError``, a bad dayobs, an unreachable database) ends the command
with one line on stderr and exit status 1; click's own usage errors keep click's exit status 2.
``VSEQ_DEBUG=1`` shows the traceback of unexpected errors as well.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..archive import VisitSequenceArchive
    from ..config import ArchiveSettings

EXIT_FAILURE = 1
EXIT_INTERNAL = 3


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "unknown error"


def describe_error(err: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit status of an error the CLI reports, or None for a bug."""
    from ..dayobs import DayobsError
    from ..errors import VseqError

    if isinstance(err, VseqError | DayobsError):
        return _one_line(str(err)), EXIT_FAILURE
    module = type(err).__module__ or ""
    name = type(err).__name__
    if module.startswith(("sqlalchemy", "psycopg2")) and name in {"OperationalError", "InterfaceError"}:
        detail = getattr(err, "orig", None) or err
        return _one_line(f"cannot reach the metadata database: {str(detail).splitlines()[0]}"), EXIT_FAILURE
    if isinstance(err, FileNotFoundError):
        return _one_line(f"no such file: {err.filename or err}"), EXIT_FAILURE
    if isinstance(err, PermissionError):
        return _one_line(f"permission denied: {err.filename or err}"), EXIT_FAILURE
    return None


class VseqGroup(click.Group):
    """A click group that turns vseq's errors into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as err:  # noqa: BLE001 - every error ends as one line
            known = describe_error(err)
            if known is None:
                if os.environ.get("VSEQ_DEBUG"):
                    raise
                message, status = _one_line(f"internal error ({type(err).__name__}): {err}"), EXIT_INTERNAL
                message += " (set VSEQ_DEBUG=1 for the traceback)"
            else:
                message, status = known
            click.echo(f"vseqarchive: error: {message}", err=True)
            ctx.exit(status)


@dataclass
class CliState:
    """The group options; the archive is opened on first use, so ``--help`` never connects."""

    database: str | None = None
    host: str | None = None
    user: str | None = None
    schema: str | None = None
    _settings: ArchiveSettings | None = field(default=None, repr=False)
    _archive: VisitSequenceArchive | None = field(default=None, repr=False)

    @property
    def settings(self) -> ArchiveSettings:
        if self._settings is None:
            from ..config import ArchiveSettings

            self._settings = ArchiveSettings.from_env(
                database=self.database, host=self.host, user=self.user, schema=self.schema
            )
        return self._settings

    def archive(self, *, migrate: bool | None = None, store: bool = True) -> VisitSequenceArchive:
        """The archive, opened on first use.

        ``store=False`` is for commands that need only the metadata database: the store is then
        opened only if it is used after all, so they never import ``lsst.resources`` (nor numpy,
        through ``lsst.utils``), which is most of a small command's start-up time.
        """
        if self._archive is None:
            from ..archive import VisitSequenceArchive

            self._archive = VisitSequenceArchive.open(self.settings, migrate=migrate, open_store=store)
        elif store:
            self._archive.store  # noqa: B018 - opened now if a metadata-only use left it closed
        return self._archive

    def close(self) -> None:
        """Release the database connections (a long-lived caller may run many commands)."""
        if self._archive is not None:
            self._archive.metadata.close()
            self._archive = None

    def archive_with_store(self, base_uri: str | None) -> VisitSequenceArchive:
        """The archive, writing files under ``base_uri`` instead of the configured store."""
        archive = self.archive()
        if not base_uri or _as_dir(base_uri) == _as_dir(str(archive.store.base)):
            return archive
        from ..archive import VisitSequenceArchive
        from ..store import ArchiveStore

        return VisitSequenceArchive(archive.metadata, ArchiveStore(base_uri), archive.settings)


def _as_dir(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


pass_state = click.make_pass_decorator(CliState)


@click.group(cls=VseqGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database", default=None, help="PostgreSQL database name of the metadata database.")
@click.option("--host", default=None, help="PostgreSQL host address of the metadata database.")
@click.option("--user", default=None, help="PostgreSQL user name to connect to the metadata database.")
@click.option("--schema", default=None, help="Schema of the metadata database (default: vsmd).")
@click.pass_context
def cli(
    ctx: click.Context, database: str | None, host: str | None, user: str | None, schema: str | None
) -> None:
    """Visit sequence archive: record, annotate, find and fetch visit sequences.

    Connection settings not given as options come from VSARCHIVE_PGDATABASE, VSARCHIVE_PGHOST,
    VSARCHIVE_PGPORT, VSARCHIVE_PGUSER and VSARCHIVE_PGSCHEMA (or VSEQ_DATABASE_URL); the
    password from libpq (PGPASSWORD, ~/.pgpass). Files go to VSEQ_ARCHIVE_URI.
    """
    ctx.obj = CliState(database=database, host=host, user=user, schema=schema)
    ctx.call_on_close(ctx.obj.close)


# -- argument types and helpers shared by the command modules ---------------------------------


class UuidType(click.ParamType):
    """A visit sequence UUID; a malformed one is a one-line error like an unknown one."""

    name = "UUID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..archive import as_uuid

        return as_uuid(value)


class DayobsType(click.ParamType):
    """A dayobs as ``YYYY-MM-DD`` or ``YYYYMMDD``."""

    name = "DAYOBS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..dayobs import parse_dayobs

        return parse_dayobs(value)


UUID = UuidType()
DAYOBS = DayobsType()


def format_value(value: Any) -> str:
    """A value as text for TSV and tables: hex for hashes, ISO-like dates, JSON for structures;
    text with controls or bidirectional controls escaped (`vseq_resources.text.displayed`)."""
    import datetime as dt
    import json

    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, sort_keys=isinstance(value, dict))
    if isinstance(value, float) and value != value:  # NaN
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return str(value)
    pd = sys.modules.get("pandas")  # a pandas missing value comes with pandas already imported
    if pd is not None:
        try:
            if value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
                return ""
        except (TypeError, ValueError):
            pass
    from ..text import displayed

    return displayed(str(value))  # stored text is printed escaped where it could mislead


def echo_tsv(columns: list[str], rows: list[list[Any]]) -> None:
    """Tab-separated values with a header, quoted like pandas ``to_csv(sep="\\t")``."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(v) for v in row])
    click.echo(buffer.getvalue().rstrip("\n"))


def echo_frame_tsv(frame: Any) -> None:
    """A DataFrame (or list of dicts) as TSV with a header; nothing at all when it is empty."""
    rows = records_of(frame)
    if not rows:
        return
    columns = list(rows[0].keys())
    echo_tsv(columns, [[row.get(c) for c in columns] for row in rows])


def records_of(frame: Any) -> list[dict[str, Any]]:
    if frame is None:
        return []
    if isinstance(frame, list):
        return [dict(r) for r in frame]
    if hasattr(frame, "to_dict"):
        frame = frame.reset_index(drop=True) if hasattr(frame, "reset_index") else frame
        return [dict(r) for r in frame.to_dict(orient="records")]
    raise TypeError(f"cannot tabulate {type(frame).__name__}")


def progress_callback(label: str, unit: str = "MiB") -> Callable[[int, int], None] | None:
    """A ``progress(done, total)`` callable drawing click's progress bar on stderr, or None when
    stderr is not a terminal (or ``VSEQ_NO_PROGRESS`` is set).

    With ``unit="MiB"`` done and total count bytes, shown in MiB; any other unit counts items,
    shown as ``done/total unit``. A bar ends (with a newline) when done reaches total; the next
    call starts a new one.
    """
    stream = sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()) or os.environ.get("VSEQ_NO_PROGRESS"):
        return None
    bar: contextlib.ExitStack | None = None
    drawn: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar, drawn
        if bar is None:
            bar = contextlib.ExitStack()
            drawn = bar.enter_context(
                click.progressbar(
                    length=max(total, 1), label=label, file=stream, item_show_func=lambda shown: shown
                )
            )
        current = f"{done / 2**20:.1f}/{total / 2**20:.1f} MiB" if unit == "MiB" else f"{done}/{total} {unit}"
        drawn.update(max(done, 0) - drawn.pos, current)
        if done >= total:
            bar.close()  # draws the finished bar and its newline
            bar = None

    return progress


def parse_creation_time(text: str | None) -> Any:
    """An ISO time; a time without a zone is taken as UTC (as the reference did)."""
    import datetime as dt

    from ..errors import InvalidInputError

    if text is None:
        return None
    raw = text.strip()
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise InvalidInputError(
            f"invalid time {text!r}: expected ISO format, e.g. 2025-01-01T00:00:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    from ..metadata.values import in_time_range

    return in_time_range(value, f"--creation_time {text!r}").astimezone(dt.UTC)


def known_archive(state: CliState, uuid: Any, *, store: bool = True) -> VisitSequenceArchive:
    """The archive, after checking that the sequence exists (an unknown UUID is an error even
    for commands whose query would quietly find nothing); ``store`` as in `CliState.archive`."""
    archive = state.archive(store=store)
    archive.metadata.get_metadata(uuid)
    return archive
