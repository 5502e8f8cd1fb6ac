"""Vectorised bulk updates of rubin_scheduler's per-healpix counting features, for pre-loading.

After :mod:`.preload` removed the surveys' redundant sorts and copies, most of a year's pre-load
was spent in two feature classes that every survey of a typical configuration carries several
times (the default configuration: 28 ``NObservations``, 9 ``LastObservation`` and 4
``LastObserved``). Their ``add_observations_array`` copy every matching record, about 400 bytes
each and ~2 million (visit, healpix) records for a year, before binning one field with
``scipy.stats.binned_statistic`` or keeping the last record: 0.1-0.3 s per feature, 11 s in all.

The functions here compute the same arrays from the two fields that matter (``hpid`` and
``mjd``, with a band mask), shared by every feature that sees the same input arrays:

- ``NObservations`` (no seeing limit, no scheduler-note filter): the per-pixel count of matching
  records, added to the feature (``binned_statistic(..., np.sum)`` over unit weights, i.e.
  ``bincount``; counts are exact in float64);
- ``LastObserved``: the latest ``mjd`` per pixel, written where a pixel has one
  (``binned_statistic(..., np.max)``; the maximum is exact);
- ``LastObservation`` (no scheduler-note filter): a copy of the last visit of its band.

Only features of exactly these classes, with the default bins, one band or none (not a list) and
pixels within the feature's map, and no ``add_observations_array`` set on the instance already
(someone else's override, or an enclosing block's switch), take the fast path; any other feature
(a subclass, a seeing limit, a note filter) keeps its own method. A ``LastObserved`` whose band
has no record is left unchanged (rubin's array method raises on the empty input instead, which
would stop a pre-load whose window has no visit in that band).
``vseq_tests/resources/simulation/test_preload.py`` compares every feature of a scheduler
pre-loaded this way with rubin_scheduler's own path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from rubin_scheduler.scheduler.features import LastObservation, LastObserved, NObservations


class _Columns:
    """A field of the records being added, as a contiguous array, optionally for one band.

    Read-only record arrays (the ones :mod:`.preload` shares among surveys) are computed once and
    kept, with the arrays themselves so that their ids stay unique; writable ones (a survey's
    own copies) are computed per call.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, str | None], np.ndarray] = {}
        self._keep: list[np.ndarray] = []

    def get(self, records: np.ndarray, field: str, band: str | None) -> np.ndarray:
        key = (id(records), field, band)
        if key in self._cache:
            return self._cache[key]
        values = np.ascontiguousarray(records[field])
        if band is not None:
            values = values[records["band"] == band]
        if not records.flags.writeable:
            self._cache[key] = values
            self._keep.append(records)
        return values


def _default_bins(feature: Any) -> bool:
    bins = getattr(feature, "bins", None)
    npix = np.size(feature.feature)
    return (
        isinstance(bins, np.ndarray)
        and bins.shape == (npix + 1,)
        and np.array_equal(bins, np.arange(npix + 1) - 0.5)
    )


def _fast_update(feature: Any, columns: _Columns) -> Callable[[np.ndarray, np.ndarray], None] | None:
    """A replacement for ``feature.add_observations_array``, or None when it must keep its own."""
    if "add_observations_array" in vars(feature):
        return None  # set on the instance: not rubin's method, or already switched
    if not isinstance(getattr(feature, "bandname", None), str | None):
        return None  # a list of bands: rubin's comparison, not one band's column
    if type(feature) is NObservations:
        if feature.seeing_limit is not None or feature.scheduler_note is not None:
            return None
        if not _default_bins(feature) or feature.feature.ndim != 1:
            return None

        def count(observations_array: np.ndarray, observations_hpid: np.ndarray) -> None:
            hpid = columns.get(observations_hpid, "hpid", feature.bandname)
            if hpid.size == 0:
                return
            if hpid.min() < 0 or hpid.max() >= feature.feature.size:
                NObservations.add_observations_array(feature, observations_array, observations_hpid)
                return
            feature.feature += np.bincount(hpid, minlength=feature.feature.size)

        return count
    if type(feature) is LastObservation:
        if feature.scheduler_note is not None:
            return None

        def last(observations_array: np.ndarray, observations_hpid: np.ndarray) -> None:
            if feature.bandname is None:
                matching = np.arange(observations_array.size)
            else:
                matching = np.flatnonzero(observations_array["band"] == feature.bandname)
            if matching.size > 0:  # a record of its own, as rubin's filtered copy gives
                feature.feature = observations_array[matching[-1:]][0]

        return last
    if type(feature) is LastObserved:
        if not _default_bins(feature) or feature.feature.ndim != 1:
            return None

        def latest(observations_array: np.ndarray, observations_hpid: np.ndarray) -> None:
            hpid = columns.get(observations_hpid, "hpid", feature.bandname)
            mjd = columns.get(observations_hpid, "mjd", feature.bandname)
            if hpid.size == 0:
                return  # no record in its band: nothing observed (rubin's method would raise)
            if hpid.min() < 0 or hpid.max() >= feature.feature.size:
                LastObserved.add_observations_array(feature, observations_array, observations_hpid)
                return
            result = np.full(feature.feature.size, -np.inf)
            np.maximum.at(result, hpid, mjd)
            good = result > 0
            feature.feature[good] = result[good]

        return latest
    return None


def survey_features(surveys: Iterable[Any]) -> Iterator[Any]:
    """Every feature object the surveys' ``sub_objects_add_observations_array`` feeds."""
    for survey in surveys:
        yield from getattr(survey, "extra_features", {}).values()
        basis_functions = list(getattr(survey, "extra_basis_functions", {}).values())
        basis_functions += list(getattr(survey, "basis_functions", []))
        for basis_function in basis_functions:
            yield from getattr(basis_function, "survey_features", {}).values()


@contextmanager
def fast_feature_updates(surveys: Iterable[Any]) -> Iterator[int]:
    """Within the block, the surveys' eligible features update through the vectorised path.

    The replacement is an instance attribute, removed on exit whatever happens, so the
    scheduler pickles, copies and simulates exactly as before. Yields how many features were
    switched.
    """
    columns = _Columns()
    patched = []
    seen: set[int] = set()
    try:
        for feature in survey_features(surveys):
            if id(feature) in seen:
                continue
            seen.add(id(feature))
            update = _fast_update(feature, columns)
            if update is not None:
                feature.add_observations_array = update
                patched.append((feature, update))
        yield len(patched)
    finally:
        for feature, update in patched:  # ours only: the removal of one cannot stop the others'
            if vars(feature).get("add_observations_array") is update:
                del feature.add_observations_array
