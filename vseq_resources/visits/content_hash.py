"""A reproducible content hash of visits: the same in every process and pandas version."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from .table import is_text

HASH_HEADER = b"vseq-visits-v1\n"
_CANONICAL_NAN = np.uint64(0x7FF8000000000000)
_GATHER_BYTES = 256 * 1024 * 1024
"""Largest (rows x widest encoded string) gathered at once when a string column is hashed."""


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
    elif is_text(dtype):
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
