"""Visits tables: the ``visits.h5`` file, a reproducible content hash, opsim conversion, statistics.

``visits.h5`` is what consumers outside vseq read with ``pandas.read_hdf(path, key="observations")``,
some of them under pandas 2.x, so it is written in the pandas/PyTables *fixed* format (a pandas 3
*table* format file cannot be read by pandas 2), compressed with zlib (the deflate filter is built
into every HDF5 library, unlike blosc), and with strings as plain Python ``str`` objects (pandas 3
would otherwise write its own string dtype).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sqlite3
import struct
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .dayobs import MJD_EPOCH, DayobsError, parse_dayobs
from .errors import InvalidInputError

VISITS_FILE_NAME = "visits.h5"
OBSERVATIONS_KEY = "observations"
MJD_COLUMN = "observationStartMJD"
MJD_RANGE = (40000.0, 100000.0)
"""Sane observation start MJDs: 1968 to 2132. Anything outside is a unit or column mistake."""

COMPLIB = "zlib"
COMPLEVEL = 5
"""Measured on 24,000 opsim-like visits: level 5 wrote 6.0 MB in 1.4 s, level 9 5.9 MB in 7.7 s,
uncompressed 16.4 MB; blosc:zstd saved 3 % more but needs the blosc filter in every reader."""

DEFAULT_STATS_COLUMNS: tuple[str, ...] = ("altitude", "azimuth")
"""The reference's default (``rubin_sim.sim_archive.compute_nightly_stats``); production pre-night
runs ask for these two too (``vseqarchive add-nightly-stats UUID visits.h5 azimuth altitude``)."""

STATS_QUANTILES = {"p05": 0.05, "q1": 0.25, "median": 0.5, "q3": 0.75, "p95": 0.95}
NIGHTLY_STATS_COLUMNS = (
    "day_obs",
    "value_name",
    "accumulated",
    "count",
    "mean",
    "std",
    "min",
    *STATS_QUANTILES,
    "max",
)

HASH_HEADER = b"vseq-visits-v1\n"
_KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CANONICAL_NAN = np.uint64(0x7FF8000000000000)
_MICROSECONDS_PER_DAY = 86_400_000_000
_MJD_EPOCH_ORDINAL = MJD_EPOCH.date().toordinal()


# --- visits.h5 -------------------------------------------------------------------------------


def write_visits_h5(
    path: str | os.PathLike[str],
    observations: pd.DataFrame,
    extra_tables: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Write ``observations`` (key ``observations``) and each extra table (its own key) to ``path``.

    The observations must have a finite ``observationStartMJD`` in a sane range; zero visits is a
    valid (empty night) sequence. Extra table keys must be identifiers (as PyTables requires),
    other than ``observations``. The file is written whole to a temporary name, then renamed.
    """
    path = Path(path)
    validate_observations(observations)
    tables = {OBSERVATIONS_KEY: observations}
    for key, frame in (extra_tables or {}).items():
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key) or key == OBSERVATIONS_KEY:
            raise InvalidInputError(f"invalid table name {key!r} for visits.h5: use letters, digits and _")
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(f"table {key!r} is a {type(frame).__name__}, not a DataFrame")
        tables[key] = frame
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".vseq-partial-", suffix=".h5", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # Fixed-format strings are always pickled object arrays; pandas warns only when some
            # are missing (None), which changes nothing about how they are stored.
            warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
            for key, frame in tables.items():
                _portable(frame).to_hdf(
                    tmp_name, key=key, mode="a", format="fixed", complib=COMPLIB, complevel=COMPLEVEL
                )
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def validate_observations(observations: pd.DataFrame) -> None:
    """Refuse frames that are not visits: no MJD column, or MJDs that are missing or absurd."""
    if not isinstance(observations, pd.DataFrame):
        raise InvalidInputError(f"visits must be a DataFrame, not {type(observations).__name__}")
    if MJD_COLUMN not in observations.columns:
        raise InvalidInputError(f"visits have no {MJD_COLUMN} column")
    mjd = observations[MJD_COLUMN]
    if len(mjd) == 0:
        return
    if not pd.api.types.is_numeric_dtype(mjd) or pd.api.types.is_bool_dtype(mjd):
        raise InvalidInputError(f"{MJD_COLUMN} must be numeric, not {mjd.dtype}")
    values = mjd.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values) | (values < MJD_RANGE[0]) | (values > MJD_RANGE[1])
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{int(bad.sum())} visits have a missing or out-of-range {MJD_COLUMN} "
            f"(first: row {first}, value {values[first]!r}; expected {MJD_RANGE[0]:g} to {MJD_RANGE[1]:g})"
        )


def _is_text(dtype: object) -> bool:
    """Object, string (pandas 2 or 3) and categorical columns: stored and hashed as strings."""
    return isinstance(dtype, pd.StringDtype | pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)


def _portable(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy that pandas 2.x reads back as it was: object strings, object column names.

    pandas 3's string dtype and categoricals are turned into object columns of ``str`` (missing
    values as None); an index of strings likewise.
    """
    out = frame.copy()
    for column, dtype in frame.dtypes.items():
        if _is_text(dtype):
            values = frame[column].astype(object)
            out[column] = values.where(values.notna(), None)
    out.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    if isinstance(out.index.dtype, pd.StringDtype):
        out.index = out.index.astype(object)
    return out


def read_visits_h5(
    path_or_url: str | os.PathLike[str],
    nights: Iterable[dt.date | str | int] | None = None,
    key: str = OBSERVATIONS_KEY,
) -> pd.DataFrame:
    """Read one table of a ``visits.h5`` (local path or any ``lsst.resources`` URL).

    With ``nights``, only the visits whose dayobs (from ``observationStartMJD``) is one of them.
    A file that is not HDF5, is truncated, or lacks the key raises `InvalidInputError`.
    """
    from lsst.resources import ResourcePath

    resource = ResourcePath(os.fspath(path_or_url), forceAbsolute=True)
    if resource.isLocal:
        frame = _read_local(Path(resource.ospath), key)
    else:
        from .store import store_errors

        with store_errors("download", str(resource)), resource.as_local() as local:
            frame = _read_local(Path(local.ospath), key)
    if nights is None:
        return frame
    if MJD_COLUMN not in frame.columns:
        raise InvalidInputError(f"table {key!r} of {path_or_url} has no {MJD_COLUMN} column")
    wanted = np.array([_dayobs(n).toordinal() for n in nights], dtype=np.int64)
    keep = np.isin(dayobs_ordinals(frame[MJD_COLUMN]), wanted)
    return frame.loc[keep]


def _read_local(path: Path, key: str) -> pd.DataFrame:
    return _read_tables(path, [key])[key]


def _read_tables(path: Path, keys: list[str] | None) -> dict[str, pd.DataFrame]:
    """The named tables (or all of them) of a local HDF5 file; anything unreadable is bad input."""
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist or is not a file")
    import tables

    try:
        with pd.HDFStore(path, mode="r") as store:
            present = [k.lstrip("/") for k in store.keys()]
            for key in keys or ():
                if key not in present:
                    raise InvalidInputError(f"{path} has no {key!r} table (it has: {', '.join(present)})")
            frames = {key: store.get(key) for key in (keys or present)}
    except InvalidInputError:
        raise
    except (OSError, ValueError, TypeError, KeyError, tables.HDF5ExtError, tables.NoSuchNodeError) as err:
        raise InvalidInputError(
            f"{path} is not a readable visits.h5 file: {type(err).__name__}: {err}"
        ) from None
    for key, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(f"{key!r} in {path} is a {type(frame).__name__}, not a table")
    return frames


def _dayobs(value: dt.date | str | int) -> dt.date:
    try:
        return parse_dayobs(value)
    except DayobsError as err:
        raise InvalidInputError(str(err)) from None


def dayobs_ordinals(mjd: pd.Series | np.ndarray) -> np.ndarray:
    """Vectorised `vseq_resources.dayobs.dayobs_of_mjd`, as ``date.toordinal()`` integers.

    The MJD is rounded to whole microseconds first, as ``dayobs_of_mjd`` does through
    ``datetime``, so both agree on visits right at the 12:00 UTC rollover.
    """
    values = np.asarray(mjd, dtype="float64")
    microseconds = np.round(values * _MICROSECONDS_PER_DAY).astype(np.int64)
    days = (microseconds - _MICROSECONDS_PER_DAY // 2) // _MICROSECONDS_PER_DAY
    return days + _MJD_EPOCH_ORDINAL


# --- content hash ----------------------------------------------------------------------------


def visits_content_hash(frame: pd.DataFrame) -> bytes:
    """SHA-256 of the visits' content, the same in every process and pandas version.

    The reference hashed in-memory record bytes, which include pointers for string columns, so
    its hash changed from one process to the next. This one hashes a documented canonical form
    (version ``vseq-visits-v1``); the index is not part of it, the row order is:

    - ``b"vseq-visits-v1\\n"``, then the row and column counts as little-endian uint64;
    - for each column in frame order: its name as a string (below), a one-byte family tag, then
      its values;
    - ``b"b"`` booleans: one byte each (0 or 1);
    - ``b"i"`` integers (no missing values): little-endian int64;
    - ``b"f"`` floats (and integers with missing values): little-endian IEEE float64, every NaN
      as ``0x7ff8000000000000`` and -0.0 as 0.0;
    - ``b"t"`` datetimes: little-endian int64 nanoseconds since 1970 UTC (naive values taken as
      UTC), NaT as the smallest int64;
    - ``b"s"`` strings (object, string and categorical columns): per value ``b"\\x00"`` for
      missing, else ``b"\\x01"``, the UTF-8 length as little-endian uint32 and the UTF-8 bytes.

    Other object values (bytes, lists, ...) raise `InvalidInputError`: they have no canonical form.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"visits must be a DataFrame, not {type(frame).__name__}")
    digest = hashlib.sha256(HASH_HEADER)
    digest.update(struct.pack("<QQ", len(frame), frame.shape[1]))
    for position in range(frame.shape[1]):
        name = frame.columns[position]
        digest.update(_string_bytes(str(name)))
        for part in _canonical_column(str(name), frame.iloc[:, position]):
            digest.update(part)
    return digest.digest()


def _canonical_column(name: str, column: pd.Series) -> Iterator[bytes]:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) and not column.hasnans:
        yield b"b"
        yield column.to_numpy(dtype=np.uint8).tobytes()
    elif pd.api.types.is_integer_dtype(dtype) and not column.hasnans:
        yield b"i"
        yield column.to_numpy(dtype="<i8").tobytes()
    elif pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        values = column.to_numpy(dtype="<f8", na_value=np.nan).copy()
        values[values == 0.0] = 0.0
        bits = values.view("<u8")
        bits[np.isnan(values)] = _CANONICAL_NAN
        yield b"f"
        yield bits.tobytes()
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        times = column.dt.tz_convert("UTC").dt.tz_localize(None) if column.dt.tz is not None else column
        yield b"t"
        yield times.astype("datetime64[ns]").to_numpy().view("<i8").astype("<i8").tobytes()
    elif _is_text(dtype):
        yield b"s"
        yield b"".join(_string_value(name, value) for value in column.astype(object))
    else:
        raise InvalidInputError(f"column {name!r} has dtype {dtype}, which the visits hash cannot encode")


def _string_bytes(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return struct.pack("<I", len(encoded)) + encoded


def _string_value(name: str, value: object) -> bytes:
    if isinstance(value, str):
        return b"\x01" + _string_bytes(value)
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return b"\x00"
    raise InvalidInputError(
        f"column {name!r} holds a {type(value).__name__}, which the visits hash cannot encode"
    )


# --- opsim sqlite <-> h5 ---------------------------------------------------------------------


def opsim_to_h5(sqlite_path: str | os.PathLike[str], h5_path: str | os.PathLike[str]) -> Path:
    """Convert an opsim sqlite file to ``visits.h5``: every table becomes a key of the same name."""
    sqlite_path = Path(sqlite_path)
    if not sqlite_path.is_file():
        raise InvalidInputError(f"{sqlite_path} does not exist or is not a file")
    try:
        with _sqlite(sqlite_path, read_only=True) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
                )
            ]
            if OBSERVATIONS_KEY not in names:
                raise InvalidInputError(
                    f"{sqlite_path} has no {OBSERVATIONS_KEY} table (it has: {', '.join(names)})"
                )
            tables = {name: pd.read_sql_query(f'SELECT * FROM "{name}"', conn) for name in names}
    except sqlite3.DatabaseError as err:
        raise InvalidInputError(f"{sqlite_path} is not a readable opsim sqlite file: {err}") from None
    observations = tables.pop(OBSERVATIONS_KEY)
    return write_visits_h5(h5_path, observations, tables)


def h5_to_opsim(
    h5_path: str | os.PathLike[str], sqlite_path: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Convert a ``visits.h5`` back to an opsim sqlite file: every key becomes a table.

    The sqlite file is built under a temporary name and renamed into place; an existing file is
    replaced only with ``overwrite``.
    """
    h5_path, sqlite_path = Path(h5_path), Path(sqlite_path)
    if sqlite_path.exists() and not overwrite:
        raise InvalidInputError(f"{sqlite_path} already exists")
    frames = _read_tables(h5_path, None)
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".vseq-partial-", suffix=".db", dir=sqlite_path.parent)
    os.close(fd)
    try:
        with _sqlite(Path(tmp_name), read_only=False) as conn:
            for name, frame in frames.items():
                frame.to_sql(name, conn, index=False)
            conn.commit()
        os.replace(tmp_name, sqlite_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return sqlite_path


class _sqlite:
    """A sqlite3 connection that is closed on exit (sqlite3's own context manager only commits)."""

    def __init__(self, path: Path, read_only: bool) -> None:
        uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rwc'}"
        self.conn = sqlite3.connect(uri, uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


# --- nightly statistics ----------------------------------------------------------------------


def compute_nightly_stats(
    visits: pd.DataFrame,
    columns: Iterable[str] = DEFAULT_STATS_COLUMNS,
    day_obs: dt.date | str | int | Iterable[dt.date | str | int] | None = None,
) -> pd.DataFrame:
    """Per-night statistics of per-visit values, in the ``nightly_stats`` table's columns.

    For each night with visits (or each night in ``day_obs``) and each requested column present
    in ``visits``: one row over that night's visits (``accumulated`` False) and one over every
    visit up to and including that night (``accumulated`` True). The statistics are those of
    ``pandas.Series.describe`` as the reference uses it: ``count`` of non-missing values, mean,
    sample standard deviation (ddof=1), min, the 5/25/50/75/95 % quantiles with linear
    interpolation, max; missing values are skipped.

    A visit's night is its dayobs, from ``observationStartMJD`` (or ``obs_start_mjd``), else
    from a ``day_obs`` column (``YYYYMMDD`` or a date).
    """
    if not isinstance(visits, pd.DataFrame):
        raise InvalidInputError(f"visits must be a DataFrame, not {type(visits).__name__}")
    columns = [columns] if isinstance(columns, str) else list(columns)
    present = [c for c in columns if c in visits.columns]
    for column in present:
        if not pd.api.types.is_numeric_dtype(visits[column]) or pd.api.types.is_bool_dtype(visits[column]):
            raise InvalidInputError(f"cannot compute statistics of non-numeric column {column!r}")
    ordinals = _visit_night_ordinals(visits)
    if day_obs is None:
        nights = sorted(set(ordinals.tolist()))
    elif isinstance(day_obs, dt.date | str | int):
        nights = [_dayobs(day_obs).toordinal()]
    else:
        nights = sorted({_dayobs(night).toordinal() for night in day_obs})
    rows = []
    for night in nights:
        for column in present:
            values = visits[column].to_numpy(dtype="float64", na_value=np.nan)
            for accumulated, mask in ((False, ordinals == night), (True, ordinals <= night)):
                rows.append(
                    {
                        "day_obs": dt.date.fromordinal(night),
                        "value_name": column,
                        "accumulated": accumulated,
                        **_describe(values[mask]),
                    }
                )
    return pd.DataFrame(rows, columns=list(NIGHTLY_STATS_COLUMNS)).astype({"count": "int64"})


def _visit_night_ordinals(visits: pd.DataFrame) -> np.ndarray:
    for column in (MJD_COLUMN, "obs_start_mjd"):
        if column in visits.columns:
            mjd = visits[column].to_numpy(dtype="float64", na_value=np.nan)
            if not np.isfinite(mjd).all():
                raise InvalidInputError(f"visits have missing or infinite {column}")
            return dayobs_ordinals(mjd)
    if "day_obs" in visits.columns:
        return np.array([_dayobs(v).toordinal() for v in visits["day_obs"]], dtype=np.int64)
    raise InvalidInputError(f"visits have neither {MJD_COLUMN}, obs_start_mjd nor day_obs")


def _describe(values: np.ndarray) -> dict[str, float | int]:
    values = values[~np.isnan(values)]
    count = len(values)
    if count == 0:
        return {"count": 0, "mean": np.nan, "std": np.nan, "min": np.nan}
    quantiles = np.quantile(values, list(STATS_QUANTILES.values()), method="linear")
    return {
        "count": count,
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if count > 1 else np.nan,
        "min": float(values.min()),
        **{name: float(q) for name, q in zip(STATS_QUANTILES, quantiles, strict=True)},
        "max": float(values.max()),
    }
