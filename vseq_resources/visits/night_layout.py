"""The night layout of ``visits.h5``: one night without reading (and unpickling) the whole file.

The fixed format keeps every string column of a frame in one pickled block, which can only be
read whole, so a night out of a ten-year file would unpickle every string of the survey. Next to
the pandas nodes (which pandas 2 and 3 read as before, and ignore these), ``write_visits_h5``
stores in the ``observations`` group:

- ``vseq_nights``: int64 rows (dayobs ordinal, first row, end row) of each run of consecutive
  visits on the same night (one run per night when the visits are sorted by time);
- for each string column j: ``vseq_text{j}_codes`` (int32 per visit, -1 for None) into the
  distinct values, stored as UTF-8 bytes ``vseq_text{j}_utf8`` cut at ``vseq_text{j}_offsets``.

Numeric blocks are chunked and read by row range. Files without the layout (written by anyone
else, or whose ``observations`` were rewritten since) are read whole and filtered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .nights import dayobs_ordinals
from .table import MJD_COLUMN, OBSERVATIONS_KEY, is_text

_LAYOUT_NODE = "vseq_nights"
_LAYOUT_VERSION = 1
NIGHTS_SELECTED = "vseq_nights_selected"
_MAX_RUNS = 1_000_000
ROWS_PER_PASS = 4096
"""Rows copied at a time when numeric columns are gathered or a block is transposed: the piece
stays in the CPU cache (NumPy's own transposing copy runs 3-4 times slower on visit tables)."""


def write_night_layout(
    path: Path,
    observations: pd.DataFrame,
    encoded: dict[int, tuple[np.ndarray, np.ndarray]],
    complib: str | None,
    complevel: int,
) -> None:
    """Add the night layout of ``observations`` to the file at ``path``, where pandas wrote them;
    ``encoded`` holds the codes and distinct values of their string columns (by position);
    the arrays are compressed with the PyTables filter ``complib`` at ``complevel``."""
    n = len(observations)
    names = pd.Index([str(c) for c in observations.columns], dtype=object)
    text = [j for j in range(observations.shape[1]) if is_text(observations.dtypes.iloc[j])]
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

    filters = tables.Filters(complevel=complevel, complib=complib)
    with tables.open_file(path, mode="a") as handle:
        group = handle.get_node(f"/{OBSERVATIONS_KEY}")
        for j, arrays in enumerate(layout):
            for suffix, array in zip(("codes", "utf8", "offsets"), arrays, strict=True):
                handle.create_carray(group, f"vseq_text{j}_{suffix}", obj=array, filters=filters)
        node = handle.create_carray(group, _LAYOUT_NODE, obj=runs, filters=filters)
        node.attrs.vseq_layout = _LAYOUT_VERSION
        node.attrs.nrows = n
        node.attrs.text_columns = json.dumps([names[j] for j in text])


def read_night_layout(path: Path, nights: np.ndarray | None) -> pd.DataFrame | None:
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


def _read_block(node: Any, ranges: list[tuple[int, int]]) -> np.ndarray:
    """The rows ``ranges`` of a numeric block stored (rows, columns), as the C-contiguous
    (columns, rows) array pandas keeps: read a few chunks at a time into a small buffer and
    transposed from there (no second copy of the block, each piece transposed in the cache)."""
    dtype = node.atom.dtype
    out = np.empty((node.shape[1], sum(b - a for a, b in ranges)), dtype=dtype)
    chunk = node.chunkshape[0] if node.chunkshape else 1
    step = max(chunk, ROWS_PER_PASS // chunk * chunk)
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
