"""Per-night statistics of per-visit values, as the ``nightly_stats`` table holds them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from .nights import dayobs_ordinals, night_ordinal
from .table import MJD_COLUMN

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
    if len(visits) == 0:  # an empty simulation: no night to describe (the reference stores nothing)
        empty = pd.DataFrame(columns=list(NIGHTLY_STATS_COLUMNS))
        return empty.astype({"accumulated": bool, "count": "int64"})
    present = [c for c in columns if c in visits.columns]
    for column in present:
        if not pd.api.types.is_numeric_dtype(visits[column]) or pd.api.types.is_bool_dtype(visits[column]):
            raise InvalidInputError(f"cannot compute statistics of non-numeric column {column!r}")
    ordinals = _visit_night_ordinals(visits)
    if day_obs is None:
        nights = sorted(set(ordinals.tolist()))
    elif isinstance(day_obs, dt.date | str | int):
        nights = [night_ordinal(day_obs)]
    else:
        nights = sorted({night_ordinal(night) for night in day_obs})
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
        return np.array([night_ordinal(v) for v in visits["day_obs"]], dtype=np.int64)
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
