"""Choosing among a pre-night index's simulations, and statistics of a night from its visits."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from .index_form import row_dict

if TYPE_CHECKING:
    import pandas as pd

PRENIGHT_TAGS = ("prenight",)
LATEST_TAGS = ("ideal", "nominal")
DEFAULT_MAX_AGE = 2


class NoMatchingSimulationsError(NotFoundError, ValueError):
    """No simulation matches a query (also a ValueError, as the reference raised)."""


def select_latest(
    candidates: pd.DataFrame,
    tags: Iterable[str] = LATEST_TAGS,
    max_simulation_age: float | None = DEFAULT_MAX_AGE,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """The newest row of a pre-night index carrying every tag in ``tags``, created less than
    ``max_simulation_age`` days before ``now`` (None: any age), as a dict; None if none."""
    import pandas as pd

    if candidates.empty:
        return None
    wanted = set(tags)
    keep = candidates["tags"].map(lambda t: wanted.issubset(t)).astype(bool)
    if max_simulation_age is not None:
        reference = pd.Timestamp(now or dt.datetime.now(dt.UTC))
        keep &= candidates["creation_time"] >= reference - pd.Timedelta(days=max_simulation_age)
    chosen = candidates.loc[keep]
    if chosen.empty:
        return None
    chosen = chosen.sort_values(["creation_time", "daily_id"], kind="stable")
    return row_dict(chosen.iloc[[-1]])


def stats_from_visits(visits: pd.DataFrame, day_obs: str | int | dt.date) -> dict[str, Any]:
    """Statistics of every numeric visit column on one night, in the index's ``stats`` form."""
    import pandas as pd

    from ..visits import compute_nightly_stats

    numeric = [
        c
        for c in visits.columns
        if pd.api.types.is_numeric_dtype(visits[c]) and not pd.api.types.is_bool_dtype(visits[c])
    ]
    if visits.empty or not numeric:
        return {}
    frame = compute_nightly_stats(visits, columns=numeric, day_obs=day_obs)
    frame = frame.loc[~frame["accumulated"]]
    out: dict[str, Any] = {}
    for record in frame.to_dict(orient="records"):
        name = record.pop("value_name")
        record.pop("day_obs")
        out[name] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    return out
