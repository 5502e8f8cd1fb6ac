"""Visits tables: the ``visits.h5`` file, a reproducible content hash, opsim conversion, statistics.

``visits.h5`` is what consumers outside vseq read with ``pandas.read_hdf(path, key="observations")``,
some of them under pandas 2.x, so it is written in the pandas/PyTables *fixed* format (a pandas 3
*table* format file cannot be read by pandas 2), compressed with blosc:lz4 (`COMPLIB`; every
PyTables, hence every pandas ``read_hdf``, has the filter), and with strings as plain Python
``str`` objects (pandas 3 would otherwise write its own string dtype), each distinct string
pickled once. Next to the pandas nodes, a small night layout (rows of each night, strings
re-encoded by column) lets ``read_visits_h5`` read the file, or one night out of a long survey,
without unpickling every string; pandas ignores it. Files of other writers (any filter, with or
without the layout) are read as pandas reads them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import struct
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .dayobs import MJD_EPOCH, DayobsError, parse_dayobs
from .errors import InvalidInputError

VISITS_FILE_NAME = "visits.h5"
OBSERVATIONS_KEY = "observations"
MJD_COLUMN = "observationStartMJD"
MJD_RANGE = (40000.0, 100000.0)
"""Sane observation start MJDs: 1968 to 2132. Anything outside is a unit or column mistake."""

COMPLIB: str | None = "blosc:lz4"
COMPLEVEL = 5
"""The PyTables filter of every node ``write_visits_h5`` writes. Measured (docs/benchmarks.md,
section 3) on synthetic opsim visits with full-precision floats, which hardly compress: on 200,000
visits blosc:lz4 (levels 1 and 5 alike) gives 296-302 B/visit, written in 5-11x the time of a
plain copy of the file and read in 2.3-4.4x; zlib level 1 or 5 (level 5 before) 256-271 B/visit,
35-120x and 8-17x; no filter 374 B/visit, 2-4x and 0.7-2x, but every string block (a PyTables
VLArray, whose chunk is at least 1 MB and which pandas writes without a chunk size) then takes
1 MB on disk: a night of 1,000 visits grows from 0.4 MB to 2.7 MB, and most archived sequences
are one night. lz4 keeps small files small and big ones within 15 % of zlib, at a tenth of its
cost. Non-PyTables HDF5 readers (h5py) need the blosc plugin (``hdf5plugin``); consumers read
``visits.h5`` with ``pandas.read_hdf``, which always has it. ``read_visits_h5`` reads files of
any filter (zlib ones written before, production's)."""

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
_GATHER_BYTES = 256 * 1024 * 1024
"""Largest (rows x widest encoded string) gathered at once when a string column is hashed."""
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
    for key, frame in tables.items():
        _check_storable(key, frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".vseq-partial-", suffix=".h5", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # Fixed-format strings are always pickled object arrays; pandas warns only when some
            # are missing (None), which changes nothing about how they are stored.
            warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
            for key, frame in tables.items():
                portable, encoded = _portable(frame, key)
                try:
                    portable.to_hdf(
                        tmp_name, key=key, mode="a", format="fixed", complib=COMPLIB, complevel=COMPLEVEL
                    )
                except NotImplementedError as err:  # e.g. an index of a dtype pandas cannot store
                    raise InvalidInputError(f"table {key!r} cannot be stored in visits.h5: {err}") from None
                del portable  # as big as the frame: not kept while the layout is written
                if key == OBSERVATIONS_KEY:
                    _write_night_layout(Path(tmp_name), frame, encoded)
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


def _check_storable(key: str, frame: pd.DataFrame) -> None:
    """Refuse columns the fixed format cannot store: names equal as strings (names are stored as
    strings), multi-level names, and extension dtypes other than strings, categoricals and
    tz-aware datetimes (with a filter, PyTables fails on nullable ones with an AttributeError;
    periods are stored as integers, which pandas 2 reads back as int64)."""
    if isinstance(frame.columns, pd.MultiIndex):
        raise InvalidInputError(f"table {key!r} has multi-level column names: visits.h5 stores one level")
    names = pd.Index([str(c) for c in frame.columns], dtype=object)
    if not names.is_unique:
        raise InvalidInputError(
            f"duplicate column name {names[names.duplicated()][0]!r} in table {key!r}"
            " (column names are stored as strings)"
        )
    for name, dtype in zip(names, frame.dtypes, strict=True):
        if not isinstance(dtype, np.dtype | pd.StringDtype | pd.CategoricalDtype | pd.DatetimeTZDtype):
            raise InvalidInputError(
                f"column {name!r} of table {key!r} has dtype {dtype}, which visits.h5 (pandas' fixed"
                " format) cannot store: convert it to a NumPy dtype (nullable integers to float64, say)"
            )


def _is_text(dtype: object) -> bool:
    """Object, string (pandas 2 or 3) and categorical columns: stored and hashed as strings."""
    return isinstance(dtype, pd.StringDtype | pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)


_ROWS_PER_PASS = 4096
"""Rows copied at a time when numeric columns are gathered or a block is transposed: the piece
stays in the CPU cache (NumPy's own transposing copy runs 3-4 times slower on visit tables)."""


def _portable(frame: pd.DataFrame, key: str) -> tuple[pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """A frame that pandas 2.x reads back as ``frame`` was, laid out for a fast fixed-format write,
    and the ``(codes, distinct values)`` of each string column, by position. Strings that are not
    valid UTF-8 text (lone surrogates: pandas 3 cannot read them back) are refused.

    Strings (pandas 3's string dtype, categoricals, object columns of ``str``) become object
    columns of ``str`` (missing values as None) in which equal strings are one Python object:
    the fixed format pickles string blocks, and pickle writes an object it has already written as
    a 2-5 byte reference (a ten-year survey's 12 million strings pickle to 25 MB instead of 95 MB,
    4-6 times faster both ways). What readers get back is unchanged: the same ``str`` values.
    Columns of one plain NumPy numeric dtype are gathered into one block whose transpose is
    C-contiguous, which is what PyTables writes (pandas would copy the frame to consolidate it,
    then PyTables would copy each block again to transpose it).
    """
    n = len(frame)
    columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    index = frame.index.astype(object) if isinstance(frame.index.dtype, pd.StringDtype) else frame.index
    encoded: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    text: dict[int, np.ndarray] = {}
    numeric: dict[np.dtype, list[int]] = {}
    others = False
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        if _is_text(column.dtype):
            codes_uniques = _encode_text(column)
            if codes_uniques is not None:
                try:
                    "".join(codes_uniques[1]).encode("utf-8")
                except UnicodeEncodeError as err:
                    raise InvalidInputError(
                        f"column {columns[j]!r} of table {key!r} holds a string that is not valid UTF-8"
                        f" text, which pandas 3 cannot read back: {err}"
                    ) from None
            if codes_uniques is None:  # not only str and missing values: kept as they are
                values = column.astype(object)
                text[j] = values.where(values.notna(), None).to_numpy(dtype=object)
            else:
                encoded[j] = codes_uniques
                codes, uniques = codes_uniques
                text[j] = np.append(uniques, np.array([None], dtype=object))[codes]
        elif isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
            numeric.setdefault(column.dtype, []).append(j)
        else:
            others = True
    try:
        from pandas.api.internals import create_dataframe_from_blocks  # pandas >= 3.0
    except ImportError:
        create_dataframe_from_blocks = None
    if others or n == 0 or create_dataframe_from_blocks is None:
        out = frame.copy()
        for j, values in text.items():
            out.isetitem(j, pd.Series(values, index=out.index, dtype=object, copy=False))
        out.columns = columns
        out.index = index
        return out, encoded
    blocks = [
        (_gather(frame, positions, dtype).T, np.array(positions)) for dtype, positions in numeric.items()
    ]
    if text:
        positions = sorted(text)
        strings = np.empty((len(positions), n), dtype=object)
        for row, j in enumerate(positions):
            strings[row] = text[j]
        blocks.append((strings, np.array(positions)))
    return create_dataframe_from_blocks(blocks, index=index, columns=columns), encoded


def _encode_text(column: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, distinct values)`` of a column of ``str`` and missing values (code -1), or None
    when it holds anything else (bytes, numbers, str subclasses...)."""
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable values
        return None
    uniques = np.asarray(uniques, dtype=object)
    if not all(type(u) is str for u in uniques):
        return None
    return codes, uniques


def _gather(frame: pd.DataFrame, positions: list[int], dtype: np.dtype) -> np.ndarray:
    """The columns at ``positions`` (all of ``dtype``) as one C-contiguous (rows, columns) array."""
    arrays = [frame.iloc[:, j].to_numpy() for j in positions]
    out = np.empty((len(frame), len(arrays)), dtype=dtype)
    for start in range(0, len(frame), _ROWS_PER_PASS):
        stop = start + _ROWS_PER_PASS
        for k, values in enumerate(arrays):
            out[start:stop, k] = values[start:stop]
    return out


def _read_block(node: Any, ranges: list[tuple[int, int]]) -> np.ndarray:
    """The rows ``ranges`` of a numeric block stored (rows, columns), as the C-contiguous
    (columns, rows) array pandas keeps: read a few chunks at a time into a small buffer and
    transposed from there (no second copy of the block, each piece transposed in the cache)."""
    dtype = node.atom.dtype
    out = np.empty((node.shape[1], sum(b - a for a, b in ranges)), dtype=dtype)
    chunk = node.chunkshape[0] if node.chunkshape else 1
    step = max(chunk, _ROWS_PER_PASS // chunk * chunk)
    buffer = np.empty((step, node.shape[1]), dtype=dtype)
    done = 0
    for a, b in ranges:
        for start in range(a, b, step):
            stop = min(start + step, b)
            piece = buffer[: stop - start]
            node.read(start, stop, out=piece)
            out[:, done : done + len(piece)] = piece.T
            done += len(piece)
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

    wanted = None if nights is None else np.array([_dayobs(n).toordinal() for n in nights], dtype=np.int64)
    resource = ResourcePath(os.fspath(path_or_url), forceAbsolute=True)
    if resource.isLocal:
        frame = _read_local(Path(resource.ospath), key, wanted)
    else:
        from .store import store_errors

        with store_errors("download", str(resource)), resource.as_local() as local:
            frame = _read_local(Path(local.ospath), key, wanted)
    if nights is None or frame.attrs.pop(_NIGHTS_SELECTED, False):
        return frame
    if MJD_COLUMN not in frame.columns:
        raise InvalidInputError(f"table {key!r} of {path_or_url} has no {MJD_COLUMN} column")
    keep = np.isin(dayobs_ordinals(frame[MJD_COLUMN]), wanted)
    return frame.loc[keep]


def _read_local(path: Path, key: str, nights: np.ndarray | None = None) -> pd.DataFrame:
    """The table ``key``; with ``nights`` (dayobs ordinals), only the rows of those nights when
    the file has a night layout (the frame is then flagged in ``attrs``), else the whole table.

    Observations written with a night layout are read through it, whole or by night: the same
    frame as pandas reads, without unpickling every string of the file; anything else (files of
    other writers, other keys) is read by pandas."""
    if key == OBSERVATIONS_KEY and path.is_file():
        import tables

        try:
            frame = _read_layout(path, nights)
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            IndexError,
            tables.HDF5ExtError,
            tables.NoSuchNodeError,
        ):
            frame = None  # not a layout we can trust: the whole-table read reports real problems
        if frame is not None:
            if nights is not None:
                frame.attrs[_NIGHTS_SELECTED] = True
            return frame
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
            # select, not get: get() swaps in pandas' pure-Python unpickler for every object
            # column (several times slower on string columns); select() reads the same frame.
            frames = {key: store.select(key) for key in (keys or present)}
    except InvalidInputError:
        raise
    except (OSError, ValueError, TypeError, KeyError, tables.HDF5ExtError, tables.NoSuchNodeError) as err:
        # HDF5 errors carry a whole back trace; its last line says what failed.
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        raise InvalidInputError(
            f"{path} is not a readable visits.h5 file: {type(err).__name__}: {lines[-1] if lines else ''}"
        ) from None
    for key, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(f"{key!r} in {path} is a {type(frame).__name__}, not a table")
    return frames


# --- night layout: one night without reading the whole file ---------------------------------
#
# The fixed format keeps every string column of a frame in one pickled block, which can only be
# read whole, so a night out of a ten-year file would unpickle every string of the survey. Next to
# the pandas nodes (which pandas 2 and 3 read as before, and ignore these), ``write_visits_h5``
# stores in the ``observations`` group:
#
# - ``vseq_nights``: int64 rows (dayobs ordinal, first row, end row) of each run of consecutive
#   visits on the same night (one run per night when the visits are sorted by time);
# - for each string column j: ``vseq_text{j}_codes`` (int32 per visit, -1 for None) into the
#   distinct values, stored as UTF-8 bytes ``vseq_text{j}_utf8`` cut at ``vseq_text{j}_offsets``.
#
# Numeric blocks are chunked and read by row range. Files without the layout (written by anyone
# else, or whose ``observations`` were rewritten since) are read whole and filtered.

_LAYOUT_NODE = "vseq_nights"
_LAYOUT_VERSION = 1
_NIGHTS_SELECTED = "vseq_nights_selected"
_MAX_RUNS = 1_000_000


def _write_night_layout(
    path: Path, observations: pd.DataFrame, encoded: dict[int, tuple[np.ndarray, np.ndarray]]
) -> None:
    """Add the night layout of ``observations`` to the file at ``path``, where pandas wrote them;
    ``encoded`` holds the codes and distinct values of their string columns (by position)."""
    n = len(observations)
    names = pd.Index([str(c) for c in observations.columns], dtype=object)
    text = [j for j in range(observations.shape[1]) if _is_text(observations.dtypes.iloc[j])]
    if n == 0 or MJD_COLUMN not in observations.columns or not names.is_unique:
        return
    if set(text) != set(encoded):
        return  # something other than str and None in a string column: not ours to re-encode
    ordinals = dayobs_ordinals(observations[MJD_COLUMN])
    starts = np.flatnonzero(np.diff(ordinals, prepend=ordinals[0] - 1))
    if len(starts) > _MAX_RUNS:
        return
    runs = np.column_stack([ordinals[starts], starts, np.append(starts[1:], n)]).astype(np.int64)
    layout = []
    for j in text:
        codes, uniques = encoded[j]
        utf8 = [u.encode("utf-8", "surrogatepass") for u in uniques]
        offsets = np.zeros(len(utf8) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in utf8], out=offsets[1:])
        smallest = np.int8 if len(uniques) < 2**7 else np.int16 if len(uniques) < 2**15 else np.int32
        layout.append(
            (codes.astype(smallest), np.frombuffer(b"".join(utf8) + b"\0", dtype=np.uint8), offsets)
        )
    import tables

    filters = tables.Filters(complevel=COMPLEVEL, complib=COMPLIB)
    with tables.open_file(path, mode="a") as handle:
        group = handle.get_node(f"/{OBSERVATIONS_KEY}")
        for j, arrays in enumerate(layout):
            for suffix, array in zip(("codes", "utf8", "offsets"), arrays, strict=True):
                handle.create_carray(group, f"vseq_text{j}_{suffix}", obj=array, filters=filters)
        node = handle.create_carray(group, _LAYOUT_NODE, obj=runs, filters=filters)
        node.attrs.vseq_layout = _LAYOUT_VERSION
        node.attrs.nrows = n
        node.attrs.text_columns = json.dumps([names[j] for j in text])


def _read_layout(path: Path, nights: np.ndarray | None) -> pd.DataFrame | None:
    """The visits of ``nights`` (dayobs ordinals; None: all) read through the night layout, or
    None when the file has none. Only the rows of those nights are read (and decompressed)."""
    import tables

    with pd.HDFStore(path, mode="r") as store:
        group = store.get_node(OBSERVATIONS_KEY)
        if group is None or _LAYOUT_NODE not in group:
            return None
        layout = group[_LAYOUT_NODE]
        if getattr(layout.attrs, "vseq_layout", None) != _LAYOUT_VERSION:
            return None
        storer = store.get_storer(OBSERVATIONS_KEY)
        nrows = int(layout.attrs.nrows)
        if storer.is_table or nrows != group.axis1.nrows:
            return None  # the observations were rewritten by something else since
        text_columns = json.loads(layout.attrs.text_columns)
        if nights is None:
            ranges = [(0, nrows)]
        else:
            runs = layout[:]
            chosen = runs[np.isin(runs[:, 0], nights)]
            ranges = [(int(a), int(b)) for a, b in chosen[:, 1:]] or [(0, 0)]
        index = _concat_1d([storer.read_index("axis1", start=a, stop=b) for a, b in ranges])
        items = storer.read_index("axis0")
        strings = _string_dtype()
        blocks: list[tuple[Any, np.ndarray]] = []
        for i in range(storer.nblocks):
            block_items = storer.read_index(f"block{i}_items")
            placement = items.get_indexer(block_items)
            if (placement < 0).any():
                return None
            node = group[f"block{i}_values"]
            if isinstance(node, tables.VLArray):
                if not set(block_items) <= set(text_columns):
                    return None
                for name, position in zip(block_items, placement, strict=True):
                    codes, uniques = _read_text(group, text_columns.index(name), ranges)
                    blocks.append((_text_array(codes, uniques, strings), np.array([position])))
            elif (
                getattr(node.attrs, "transposed", False)
                and getattr(node.attrs, "value_type", None) is None
                and getattr(node.attrs, "shape", None) is None
                and len(node.shape) == 2
                and node.atom.dtype.kind in "biuf"
            ):  # a plain numeric block, stored as (rows, columns)
                blocks.append((_read_block(node, ranges), placement))
            elif nights is None:
                return None  # whole reads of other blocks (dates...): pandas' own read
            else:
                parts = [storer.read_array(f"block{i}_values", start=a, stop=b) for a, b in ranges]
                if all(isinstance(part, np.ndarray) for part in parts):
                    values = np.concatenate(parts, axis=1)
                else:  # tz-aware datetimes...: pandas' arrays, (columns, rows) or 1-D (pandas 2)
                    parts = [pd.array(part) if isinstance(part, pd.Index) else part for part in parts]
                    values = (
                        parts[0]
                        if len(parts) == 1
                        else parts[0]._concat_same_type(parts, axis=parts[0].ndim - 1)
                    )
                blocks.append((values, placement))
    return _frame_from_blocks(blocks, index, items)


def _string_dtype() -> Any:
    """pandas 3's default string dtype (as pandas reads string blocks), or None under pandas 2."""
    return None if pd.Series(["x"]).dtype == object else pd.StringDtype(na_value=np.nan)


def _text_array(codes: np.ndarray, uniques: np.ndarray, strings: Any) -> Any:
    """The values of a string column as pandas reads them: ``dtype`` ``strings`` (pandas 3), else
    object ``str`` with None for missing values."""
    if strings is not None and strings.storage == "pyarrow":
        import pyarrow as pa

        try:
            taken = pa.array(uniques.tolist(), type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
        except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates: as pandas fails
            pass
        else:
            return pd.array(taken, dtype=strings)
    values = np.append(uniques, np.array([None], dtype=object))[codes]
    return values if strings is None else pd.array(values, dtype=strings)


def _frame_from_blocks(
    blocks: list[tuple[Any, np.ndarray]], index: pd.Index, items: pd.Index
) -> pd.DataFrame:
    """A frame of ``blocks`` (2-D (columns, rows) arrays or 1-D extension arrays, each with the
    positions of its columns in ``items``), without copying them."""
    try:
        from pandas.api.internals import create_dataframe_from_blocks  # pandas >= 3.0
    except ImportError:
        create_dataframe_from_blocks = None
    if not blocks:
        return pd.DataFrame(columns=items, index=index)
    if create_dataframe_from_blocks is not None:
        return create_dataframe_from_blocks(
            [(v.reshape(1, -1) if isinstance(v, np.ndarray) and v.ndim == 1 else v, p) for v, p in blocks],
            index=index,
            columns=items,
        )
    pieces = [
        pd.DataFrame({items[placement[0]]: values}, index=index)
        if values.ndim == 1
        else pd.DataFrame(values.T, columns=items[placement], index=index, copy=False)
        for values, placement in blocks
    ]
    return pd.concat(pieces, axis=1).reindex(columns=items)


def _read_text(group: Any, j: int, ranges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: None) in the row ``ranges`` and distinct values of layout string column ``j``."""
    codes = np.concatenate([group[f"vseq_text{j}_codes"][a:b] for a, b in ranges])
    offsets = group[f"vseq_text{j}_offsets"][:]
    utf8 = group[f"vseq_text{j}_utf8"][:].tobytes()
    if len(codes) and (codes.max() >= len(offsets) - 1 or codes.min() < -1):
        raise ValueError(f"vseq_text{j}_codes out of range")
    uniques = np.empty(len(offsets) - 1, dtype=object)
    uniques[:] = [
        utf8[a:b].decode("utf-8", "surrogatepass") for a, b in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    return codes, uniques


def _concat_1d(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else parts[0].append(parts[1:])


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
        yield _string_column_bytes(name, column)
    else:
        raise InvalidInputError(f"column {name!r} has dtype {dtype}, which the visits hash cannot encode")


def _string_column_bytes(name: str, column: pd.Series) -> bytes:
    """The canonical bytes of a text column, each distinct value encoded once.

    Visit tables repeat few strings (bands, targets, programs) over many rows, so encoding the
    distinct values and gathering them by code gives the same bytes as a per-row loop, fast.
    """
    # pandas' string dtype factorizes as it is (pyarrow: without making a Python object per row);
    # anything else as the objects it holds.
    values = column if isinstance(column.dtype, pd.StringDtype) else column.astype(object)
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values: the per-row path names the offending type
        return b"".join(_string_value(name, value) for value in values)
    encoded = [*(_string_value(name, value) for value in uniques), b"\x00"]
    width = max(len(e) for e in encoded)
    if len(codes) * width > _GATHER_BYTES:
        return b"".join(np.array(encoded, dtype=object)[codes].tolist())  # code -1 picks b"\x00"
    # Each distinct encoding padded to one width; rows gathered by code, the padding dropped.
    padded = np.zeros((len(encoded), width), dtype=np.uint8)
    for row, value in enumerate(encoded):
        padded[row, : len(value)] = np.frombuffer(value, dtype=np.uint8)
    lengths = np.array([len(e) for e in encoded])
    keep = np.arange(width) < lengths[codes][:, None]
    return padded[codes][keep].tobytes()


def _string_bytes(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return struct.pack("<I", len(encoded)) + encoded


def _string_value(name: str, value: object) -> bytes:
    if isinstance(value, str):
        try:
            return b"\x01" + _string_bytes(value)
        except UnicodeEncodeError as err:
            raise InvalidInputError(
                f"column {name!r} holds a string that is not valid UTF-8 text, which the visits hash"
                f" cannot encode: {err}"
            ) from None
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
    # Visits in night order once; each night is then a slice and "up to that night" a prefix.
    order = np.argsort(ordinals, kind="stable")
    by_night = ordinals[order]
    starts = np.searchsorted(by_night, nights, side="left")
    ends = np.searchsorted(by_night, nights, side="right")
    described: dict[str, list[tuple[dict, dict]]] = {}
    for column in present:
        values = visits[column].to_numpy(dtype="float64", na_value=np.nan)[order]
        prefix = _PrefixStats(values)
        described[column] = [
            (_describe(values[start:end]), prefix.describe(end))
            for start, end in zip(starts, ends, strict=True)
        ]
    rows = []
    for i, night in enumerate(nights):
        for column in present:
            for accumulated, stats in zip((False, True), described[column][i], strict=True):
                rows.append(
                    {
                        "day_obs": dt.date.fromordinal(night),
                        "value_name": column,
                        "accumulated": accumulated,
                        **stats,
                    }
                )
    return pd.DataFrame(rows, columns=list(NIGHTLY_STATS_COLUMNS)).astype({"count": "int64"})


class _PrefixStats:
    """``_describe`` of growing prefixes ``values[:end]`` (``end`` never decreasing), each in
    about O(sqrt(n)) instead of O(n): a ten-year survey has thousands of nights.

    Count, mean, standard deviation, min and max are merged night by night (Chan et al.'s
    pairwise update of the mean and the sum of squared deviations); the quantiles are order
    statistics of the prefix, found through per-block counts over the values' global sort order,
    and interpolated as ``numpy.quantile(method="linear")`` does.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        valid = ~np.isnan(values)
        order = np.flatnonzero(valid)[np.argsort(values[valid], kind="stable")]
        self.sorted = values[order]
        self.rank = np.full(len(values), -1, dtype=np.int64)
        self.rank[order] = np.arange(len(order))
        self.block = max(64, int(np.sqrt(max(len(order), 1))))
        self.counts = np.zeros(len(order) // self.block + 1, dtype=np.int64)
        self.present = np.zeros(len(order), dtype=bool)
        self.done = 0
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.min, self.max = np.inf, -np.inf

    def describe(self, end: int) -> dict[str, float | int]:
        if end > self.done:
            self._add(self.done, end)
            self.done = end
        if self.n == 0:
            return {"count": 0, "mean": np.nan, "std": np.nan, "min": np.nan}
        cumulative = np.cumsum(self.counts)
        positions = (self.n - 1) * np.array(list(STATS_QUANTILES.values()))
        below = np.floor(positions).astype(np.int64)
        quantiles = [
            _lerp(self._kth(cumulative, lo), self._kth(cumulative, min(lo + 1, self.n - 1)), gamma)
            for lo, gamma in zip(below, positions - below, strict=True)
        ]
        return {
            "count": self.n,
            "mean": float(self.mean),
            "std": float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else np.nan,
            "min": float(self.min),
            **{name: float(q) for name, q in zip(STATS_QUANTILES, quantiles, strict=True)},
            "max": float(self.max),
        }

    def _add(self, start: int, end: int) -> None:
        ranks = self.rank[start:end]
        ranks = ranks[ranks >= 0]
        if not len(ranks):
            return
        self.present[ranks] = True
        self.counts += np.bincount(ranks // self.block, minlength=len(self.counts))
        chunk = self.values[start:end]
        chunk = chunk[~np.isnan(chunk)]
        n, mean = len(chunk), chunk.mean()
        m2 = float(((chunk - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total if self.n else mean
        self.m2 = self.m2 + m2 + delta * delta * self.n * n / total
        self.n = total
        self.min, self.max = min(self.min, chunk.min()), max(self.max, chunk.max())

    def _kth(self, cumulative: np.ndarray, k: int) -> float:
        """The k-th smallest (0-based) value of the prefix."""
        block = int(np.searchsorted(cumulative, k, side="right"))
        before = int(cumulative[block - 1]) if block else 0
        offset = np.flatnonzero(self.present[block * self.block : (block + 1) * self.block])[k - before]
        return self.sorted[block * self.block + offset]


def _lerp(a: float, b: float, t: float) -> float:
    """``numpy.quantile``'s linear interpolation, term for term."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


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
