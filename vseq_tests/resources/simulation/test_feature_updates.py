"""The vectorised feature updates give the feature states rubin_scheduler's own methods give."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from numpy.lib import recfunctions
from rubin_scheduler.scheduler.features import LastObservation, LastObserved, NObsCount, NObservations
from rubin_scheduler.scheduler.surveys import BaseSurvey

from vseq_resources.simulation import visits_to_observations
from vseq_resources.simulation.feature_updates import fast_feature_updates

from .synthetic import synthetic_visits

NPIX = 12 * 32**2


def _features() -> dict[str, object]:
    return {
        "n_all": NObservations(),
        "n_g": NObservations(bandname="g"),
        "n_absent_band": NObservations(bandname="q"),
        "n_seeing": NObservations(bandname="r", seeing_limit=1.2),  # keeps rubin's own method
        "n_note": NObservations(scheduler_note="blob_long"),  # keeps rubin's own method
        "last_any": LastObservation(),
        "last_u": LastObservation(bandname="u"),
        "last_absent_band": LastObservation(bandname="q"),
        "observed_any": LastObserved(bandname=None),
        "observed_r": LastObserved(bandname="r"),
        "count": NObsCount(),  # not vectorised
    }


def _arrays(seed: int) -> tuple[np.ndarray, np.ndarray]:
    visits = synthetic_visits(400, dt.date(2026, 10, 1), dt.date(2026, 10, 9), seed=seed)
    obs = visits_to_observations(visits, narrow=True)
    obs.sort(order="mjd")
    rng = np.random.default_rng(seed)
    per_visit = rng.integers(1, 12, obs.size)
    visit_index = np.repeat(np.arange(obs.size), per_visit)
    hpid = rng.integers(0, NPIX, visit_index.size)
    obs_hpid = recfunctions.append_fields(obs[visit_index], "hpid", hpid, usemask=False)
    obs.flags.writeable = False
    obs_hpid.flags.writeable = False
    return obs, obs_hpid


def _state(feature: object) -> bytes | np.ndarray:
    value = feature.feature
    return value.tobytes() if isinstance(value, np.void | np.ndarray) and value.dtype.names else value


def test_fast_updates_match_rubin_schedulers_methods() -> None:
    fast = BaseSurvey([], extra_features=_features())
    reference = BaseSurvey([], extra_features=_features())
    for seed in (1, 2):  # a second batch adds to the state the first one left
        obs, obs_hpid = _arrays(seed)
        with fast_feature_updates([fast]) as switched:
            fast.sub_objects_add_observations_array(obs, obs_hpid)
        reference.sub_objects_add_observations_array(obs, obs_hpid)
        assert switched == 8
    for name, feature in fast.extra_features.items():
        expected = _state(reference.extra_features[name])
        got = _state(feature)
        if isinstance(expected, np.ndarray):
            assert np.array_equal(got, expected, equal_nan=True), name
        else:
            assert got == expected, name
    assert fast.extra_features["n_g"].feature.sum() > 0
    assert np.isfinite(fast.extra_features["observed_r"].feature).any()
    # Nothing of the switch stays on the features (they pickle and copy as rubin's).
    assert all("add_observations_array" not in vars(f) for f in fast.extra_features.values())


def test_last_observed_of_a_band_without_visits_is_left_unchanged() -> None:
    """No record in its band (a look-back window without u visits): nothing to record, as
    ``add_observation`` would do visit by visit (rubin's array method raises on the empty bin
    input instead, which must not stop a pre-load)."""
    obs, obs_hpid = _arrays(3)
    feature = LastObserved(bandname="q")
    survey = BaseSurvey([], extra_features={"observed_q": feature})
    with fast_feature_updates([survey]) as switched:
        survey.sub_objects_add_observations_array(obs, obs_hpid)
    assert switched == 1
    assert np.isnan(feature.feature).all()
    one_by_one = LastObserved(bandname="q")
    for record in obs_hpid:
        one_by_one.add_observation(record[np.newaxis], indx=[record["hpid"]])
    assert np.isnan(one_by_one.feature).all()


def test_features_the_fast_path_cannot_take_keep_their_own_method() -> None:
    """A band list (documented for ``NObservations``) and a method set on the instance (someone
    else's override, or an enclosing block's switch) are left alone, and survive the block."""
    obs, obs_hpid = _arrays(4)
    listed, listed_reference = NObservations(bandname=["g"]), NObservations(bandname=["g"])
    calls: list[int] = []
    overridden = NObservations()
    overridden.add_observations_array = lambda array, hpid: calls.append(hpid.size)
    survey = BaseSurvey([], extra_features={"listed": listed, "overridden": overridden})
    with fast_feature_updates([survey]) as switched:
        survey.sub_objects_add_observations_array(obs, obs_hpid)
    assert switched == 0
    listed_reference.add_observations_array(obs, obs_hpid)
    assert np.array_equal(listed.feature, listed_reference.feature) and listed.feature.sum() > 0
    assert calls == [obs_hpid.size] and overridden.feature.sum() == 0
    assert "add_observations_array" in vars(overridden)

    # Nested blocks over the same features: the inner one leaves the outer one's switch in place.
    counted, reference = NObservations(), NObservations()
    survey = BaseSurvey([], extra_features={"n": counted})
    with fast_feature_updates([survey]) as outer:
        with fast_feature_updates([survey]) as inner:
            survey.sub_objects_add_observations_array(obs, obs_hpid)
        survey.sub_objects_add_observations_array(obs, obs_hpid)
    assert (outer, inner) == (1, 0)
    assert "add_observations_array" not in vars(counted)
    reference.add_observations_array(obs, obs_hpid)
    reference.add_observations_array(obs, obs_hpid)
    assert np.array_equal(counted.feature, reference.feature)


def test_an_exception_in_the_block_leaves_the_features_as_rubin_would() -> None:
    obs, obs_hpid = _arrays(5)
    fast, reference = _features(), _features()
    survey = BaseSurvey([], extra_features=fast)
    with pytest.raises(RuntimeError, match="boom"), fast_feature_updates([survey]):
        survey.sub_objects_add_observations_array(obs, obs_hpid)
        raise RuntimeError("boom")
    BaseSurvey([], extra_features=reference).sub_objects_add_observations_array(obs, obs_hpid)
    assert all("add_observations_array" not in vars(f) for f in fast.values())
    for name, feature in fast.items():
        expected, got = _state(reference[name]), _state(feature)
        if isinstance(expected, np.ndarray):
            assert np.array_equal(got, expected, equal_nan=True), name
        else:
            assert got == expected, name
