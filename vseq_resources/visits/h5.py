"""Writing and reading ``visits.h5``, the file every visit sequence is stored as.

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
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_output
from ..errors import InvalidInputError
from ..storage_errors import store_errors
from .night_layout import NIGHTS_SELECTED, ROWS_PER_PASS, read_night_layout, write_night_layout
from .nights import dayobs_ordinals, night_ordinal
from .table import MJD_COLUMN, OBSERVATIONS_KEY, is_text, validate_observations

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

_KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    with atomic_output(path, ".h5") as temporary, warnings.catch_warnings():
        # Fixed-format strings are always pickled object arrays; pandas warns only when some
        # are missing (None), which changes nothing about how they are stored.
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        for key, frame in tables.items():
            portable, encoded = _portable(frame, key)
            try:
                portable.to_hdf(
                    temporary, key=key, mode="a", format="fixed", complib=COMPLIB, complevel=COMPLEVEL
                )
            except NotImplementedError as err:  # e.g. an index of a dtype pandas cannot store
                raise InvalidInputError(f"table {key!r} cannot be stored in visits.h5: {err}") from None
            del portable  # as big as the frame: not kept while the layout is written
            if key == OBSERVATIONS_KEY:
                write_night_layout(temporary, frame, encoded, COMPLIB, COMPLEVEL)
    return path


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
        if is_text(column.dtype):
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
    for start in range(0, len(frame), ROWS_PER_PASS):
        stop = start + ROWS_PER_PASS
        for k, values in enumerate(arrays):
            out[start:stop, k] = values[start:stop]
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

    wanted = None if nights is None else np.array([night_ordinal(n) for n in nights], dtype=np.int64)
    resource = ResourcePath(os.fspath(path_or_url), forceAbsolute=True)
    if resource.isLocal:
        frame = _read_local(Path(resource.ospath), key, wanted)
    else:
        with store_errors("download", str(resource)), resource.as_local() as local:
            frame = _read_local(Path(local.ospath), key, wanted)
    if nights is None or frame.attrs.pop(NIGHTS_SELECTED, False):
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
            frame = read_night_layout(path, nights)
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
                frame.attrs[NIGHTS_SELECTED] = True
            return frame
    return read_tables(path, [key])[key]


def read_tables(path: Path, keys: list[str] | None) -> dict[str, pd.DataFrame]:
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
