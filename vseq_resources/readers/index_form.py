"""One form for a pre-night index, whichever path answered (the database or a snapshot)."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DATE_COLUMNS = ("sim_creation_day_obs", "first_day_obs", "last_day_obs", "parent_last_day_obs")
HEX_COLUMNS = ("conda_env_sha256",)
INDEX_NAME = "visitseq_uuid"


def _index_columns() -> tuple[str, ...]:
    from ..metadata.schema import SIMULATIONS_EXTRA_COLUMNS

    return (*(c for c in SIMULATIONS_EXTRA_COLUMNS if c != INDEX_NAME), "stats")


def normalize_prenight_index(frame: pd.DataFrame) -> pd.DataFrame:
    """A pre-night index (database result or snapshot) in the one form readers return.

    Indexed by ``visitseq_uuid`` (str); columns of ``simulations_extra`` then ``stats``, in that
    order (any other column of a snapshot after them); dates as ``datetime.date`` (or None),
    ``creation_time`` as ``datetime64[ns, UTC]``, ``daily_id`` int64, hashes as hex strings,
    ``parent_visitseq_uuid`` as str, text as Python str, ``tags`` lists, ``comments``/``files``
    dicts, ``sim_runner_kwargs``/``stats`` dicts or None. Object columns hold None for missing
    values, never NaN.
    """
    import pandas as pd

    frame = frame.copy()
    if INDEX_NAME in frame.columns:
        frame = frame.set_index(INDEX_NAME)
    frame.index = pd.Index([str(u) for u in frame.index], dtype=object, name=INDEX_NAME)
    columns = _index_columns()
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    extra = [c for c in frame.columns if c not in columns]
    frame = frame.loc[:, [*columns, *extra]]
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = list(frame[column])
        if column in DATE_COLUMNS:
            converted: list[Any] = [None if missing(v) else _as_date(v) for v in values]
        elif column in HEX_COLUMNS:
            converted = [
                None if missing(v) else (bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v))
                for v in values
            ]
        elif column == "parent_visitseq_uuid":
            converted = [None if missing(v) else str(v) for v in values]
        elif column == "tags":
            converted = [[] if missing(v) else sorted(str(t) for t in v) for v in values]
        elif column in ("comments", "files"):
            converted = [{} if missing(v) else dict(v) for v in values]
        elif column in ("stats", "sim_runner_kwargs"):
            converted = [None if missing(v) or v == {} and column == "stats" else v for v in values]
        elif column == "creation_time":
            out[column] = pd.to_datetime(
                pd.Series(values, index=frame.index, dtype=object), utc=True, format="ISO8601"
            ).astype("datetime64[ns, UTC]")
            continue
        elif column == "daily_id":
            out[column] = pd.Series([int(v) for v in values], index=frame.index, dtype="int64")
            continue
        else:
            converted = [None if missing(v) else v for v in values]
        out[column] = pd.Series(converted, index=frame.index, dtype=object)
    return out


def row_dict(frame: pd.DataFrame) -> dict[str, Any]:
    """The first row of a normalized index as a dict with ``visitseq_uuid`` (dates None, not NaT)."""
    row = frame.reset_index().iloc[0].to_dict()
    return {k: (None if k in DATE_COLUMNS and missing(v) else v) for k, v in row.items()}


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    return dt.date.fromisoformat(str(value)[:10])


def missing(value: Any) -> bool:
    """None, NaN, NaT or NA."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    import pandas as pd

    return value is pd.NaT or value is pd.NA
