"""Feeding completed visits into a scheduler before it simulates the coming night.

A pre-night simulation starts from the survey's real state: the scheduler's features (visit
counts per pixel and band, last observation times, pair bookkeeping) must have seen every visit
already taken. Production converts the opsim-schema visits with
``SchemaConverter().opsim2obs`` and calls ``scheduler.add_observations_array``. vseq does the same
from a DataFrame, but fills an ``ObservationArray`` (zeros and defaults) rather than the
converter's uninitialised array, so visits lacking some columns (ConsDB-derived ones often do)
never feed garbage into the features.

Performance. ``CoreScheduler.add_observations_array`` maps every visit to the healpixels it
covers (about ten at nside 32), building a second array with one record per (visit, pixel), and
hands both arrays to every survey. ``BaseSurvey.add_observations_array`` then sorts both arrays
again by ``mjd`` (a structured-array sort that breaks ties by comparing every field, and the ~10
copies of a visit all tie) and copies them, before the features see them. With nine surveys,
a year of visits (200 000 visits, ~2 million records) spent most of a minute in those
redundant sorts and copies. :func:`add_observations_array` does the same work once:

- the visits are sorted exactly as rubin_scheduler sorts them (``sort(order="mjd")``) and the
  per-pixel array is built already in the order rubin_scheduler's sort gives it (by visit, then
  by healpix id, which is the order a tie-breaking sort by every field gives);
- each survey that keeps ``BaseSurvey``'s method gets the two arrays directly (its
  ``ignore_obs`` filter applied, as the base method does), without the re-sort and the copy.
  The arrays are made read-only instead of copied, so a feature that tried to modify its input
  (none in rubin_scheduler does) would fail loudly rather than corrupt other surveys' state;
- surveys that override the method (scripted, pointing, long-gap surveys) get their own copies
  through their own method, as before.

The features themselves then take most of what is left; the commonest counting ones update
through :mod:`.feature_updates` (vectorised, same values).

The result is the same scheduler state (``vseq_tests/resources/simulation/test_preload.py``
compares every feature with rubin_scheduler's own path). The text fields of the records are
also narrowed to their longest value (``ObservationArray`` reserves 60 characters), which makes
every remaining copy and comparison cheaper without changing any value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rubin_scheduler.scheduler.schedulers import CoreScheduler
from rubin_scheduler.scheduler.surveys import BaseSurvey
from rubin_scheduler.scheduler.utils import ObservationArray, SchemaConverter

from ..errors import InvalidInputError
from .feature_updates import fast_feature_updates

REQUIRED_COLUMNS = ("observationStartMJD", "fieldRA", "fieldDec")


def visits_to_observations(visits: pd.DataFrame, *, narrow: bool = False) -> np.ndarray:
    """Opsim-schema visits (degrees) as a rubin_scheduler ``ObservationArray`` (radians).

    With ``narrow``, a plain structured array whose text fields are only as wide as their longest
    value (``ObservationArray`` reserves 60 characters, truncating longer ones, and so does this):
    the same values in records a third the size, which every later copy and comparison of the
    pre-load pays for.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in visits.columns]
    if missing:
        raise InvalidInputError(f"pre-loaded visits lack the opsim columns {missing}")
    if "band" not in visits.columns and "filter" not in visits.columns:
        raise InvalidInputError("pre-loaded visits have neither a band nor a filter column")
    converter = SchemaConverter()
    degrees = set(converter.angles_rad2deg)
    hours = set(converter.angles_hours2deg)
    template = ObservationArray(n=1)
    fields: dict[str, np.ndarray] = {}
    for column, field in converter.convert_dict.items():
        if column not in visits.columns or field not in template.dtype.names:
            continue
        values = visits[column].to_numpy()
        if template.dtype[field].kind == "U":
            values = pd.Series(values).fillna("").astype(str).to_numpy()
        elif column in degrees:
            values = np.radians(values.astype(float))
        elif column in hours:
            values = values.astype(float) * 24.0 / 360.0
        fields[field] = values
    dtype = template.dtype
    if narrow:
        dtype = np.dtype([(name, _narrowed(dtype[name], fields.get(name))) for name in dtype.names])
    obs = np.zeros(len(visits), dtype=dtype)
    obs["extinction_limit"] = template["extinction_limit"][0]
    for field, values in fields.items():
        obs[field] = values
    return obs if narrow else obs.view(ObservationArray)


def _narrowed(kind: np.dtype, values: np.ndarray | None) -> np.dtype:
    """A text field's type cut to its longest value, never wider than rubin_scheduler's."""
    if kind.kind != "U":
        return kind
    longest = 0 if values is None or len(values) == 0 else int(pd.Series(values).str.len().max())
    return np.dtype(f"U{min(max(1, longest), kind.itemsize // 4)}")


def preload_visits(scheduler: CoreScheduler, visits: pd.DataFrame, *, fast: bool = True) -> int:
    """Add completed visits to the scheduler's memory; returns how many were added.

    ``fast=False`` uses rubin_scheduler's own ``CoreScheduler.add_observations_array`` (the
    reference the fast path is tested against).
    """
    if len(visits) == 0:
        return 0
    obs = visits_to_observations(visits, narrow=True)
    if fast:
        add_observations_array(scheduler, obs)
    else:
        scheduler.add_observations_array(obs)
    return len(obs)


def add_observations_array(scheduler: CoreScheduler, obs: np.ndarray) -> None:
    """``scheduler.add_observations_array(obs)`` without the per-survey re-sorts and copies."""
    if len(obs) <= 1:
        scheduler.add_observations_array(obs)
        return
    obs = obs.copy()
    missing_band = np.where(obs["band"] == "")
    obs["band"][missing_band] = np.char.rstrip(obs["filter"][missing_band], chars="_0123456789")
    obs.sort(order="mjd")

    pixels = scheduler.pointing2hpindx(obs["RA"], obs["dec"])
    counts = np.fromiter((len(p) for p in pixels), dtype=np.int64, count=len(pixels))
    visit_index = np.repeat(np.arange(len(obs)), counts)
    hpid = np.concatenate([np.asarray(p, dtype=np.int64) for p in pixels] or [np.zeros(0, np.int64)])
    order = np.lexsort((hpid, visit_index))  # by visit (already in sorted order), then healpix
    visit_index, hpid = visit_index[order], hpid[order]
    obs_hpid = _with_hpid(obs, visit_index, hpid)

    obs.flags.writeable = False
    obs_hpid.flags.writeable = False
    kept: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    surveys = [survey for survey_list in scheduler.survey_lists for survey in survey_list]
    with fast_feature_updates(surveys):
        for survey in surveys:
            if type(survey).add_observations_array is BaseSurvey.add_observations_array:
                ignored = tuple(survey.ignore_obs)
                if ignored not in kept:
                    kept[ignored] = _without_ignored(obs, obs_hpid, ignored)
                survey_obs, survey_hpid = kept[ignored]
                if len(survey_obs) > 0:
                    survey.sub_objects_add_observations_array(survey_obs, survey_hpid)
            else:  # a survey with its own method gets its own writable copies, as rubin does
                survey.add_observations_array(obs.copy(), obs_hpid.copy())
    if np.max(obs["target_id"]) >= scheduler.target_id_counter:
        scheduler.target_id_counter = np.max(obs["target_id"]) + 1
    scheduler.queue_manager.add_observations_array(obs, obs_hpid)


def _with_hpid(obs: np.ndarray, visit_index: np.ndarray, hpid: np.ndarray) -> np.ndarray:
    """Records ``obs[visit_index]`` with an ``hpid`` field appended (rubin_scheduler's layout).

    ``obs`` is packed (no padding), so each new record is the visit's bytes followed by the
    8 bytes of ``hpid``: one gather of whole rows instead of one per field.
    """
    dtype = np.dtype(obs.dtype.descr + [("hpid", np.int64)])
    width = obs.dtype.itemsize
    if dtype.itemsize != width + 8 or dtype.fields["hpid"][1] != width:
        out = np.empty(hpid.size, dtype=dtype)  # not packed: field by field
        for name in obs.dtype.names:
            out[name] = obs[name][visit_index]
        out["hpid"] = hpid
        return out
    rows = np.empty((hpid.size, width + 8), dtype=np.uint8)
    rows[:, :width] = np.ascontiguousarray(obs).view(np.uint8).reshape(len(obs), width)[visit_index]
    rows[:, width:] = hpid.astype(np.int64).view(np.uint8).reshape(-1, 8)
    return rows.view(dtype).reshape(hpid.size)


def _without_ignored(
    obs: np.ndarray, obs_hpid: np.ndarray, ignored: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The records a survey with ``ignore_obs=ignored`` keeps (``BaseSurvey``'s filter).

    Surveys with the same ``ignore_obs`` share the filtered arrays; when nothing is ignored the
    arrays themselves are returned (read-only) instead of filtered copies.
    """
    for note in ignored:
        keep = np.strings.find(obs["scheduler_note"], note) == -1
        if not keep.all():
            obs = obs[keep]
            obs.flags.writeable = False
        keep_hpid = np.strings.find(obs_hpid["scheduler_note"], note) == -1
        if not keep_hpid.all():
            obs_hpid = obs_hpid[keep_hpid]
            obs_hpid.flags.writeable = False
    return obs, obs_hpid
