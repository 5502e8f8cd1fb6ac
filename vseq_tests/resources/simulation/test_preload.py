"""Conversion of opsim-schema visits into the scheduler's observation arrays."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from vseq_resources.errors import InvalidInputError
from vseq_resources.simulation import visits_to_observations

from .synthetic import synthetic_visits


def test_round_trip_of_angles_and_bands() -> None:
    visits = synthetic_visits(50, dt.date(2026, 11, 1), dt.date(2026, 11, 3))
    assert len(visits.columns) == 48
    obs = visits_to_observations(visits)
    assert np.allclose(np.degrees(obs["RA"]), visits["fieldRA"])
    assert np.allclose(np.degrees(obs["dec"]), visits["fieldDec"])
    assert np.allclose(obs["mjd"], visits["observationStartMJD"])
    assert list(obs["band"]) == list(visits["band"])


def test_minimal_columns_are_enough_and_missing_ones_refused() -> None:
    visits = synthetic_visits(5, dt.date(2026, 11, 1), dt.date(2026, 11, 1))
    obs = visits_to_observations(visits[["observationStartMJD", "fieldRA", "fieldDec", "band"]])
    assert np.all(obs["exptime"] == 0)
    with pytest.raises(InvalidInputError, match="fieldDec"):
        visits_to_observations(visits[["observationStartMJD", "fieldRA", "band"]])


def _state_differences(a: object, b: object, path: str, seen: set[int], out: list[str]) -> None:
    """Walk two schedulers' object graphs (rubin_scheduler objects, containers, arrays)."""
    if id(a) in seen or "perf_counter" in path:
        return
    seen.add(id(a))
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            out.append(f"{path}: shape/dtype")
        elif a.dtype.names is None and a.dtype.kind in "fiub":
            if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                out.append(path)
        elif a.tobytes() != b.tobytes():
            out.append(path)
        return
    if isinstance(a, np.void):  # one record (``LastObservation`` keeps the last visit so)
        if not isinstance(b, np.void) or a.dtype != b.dtype or a.tobytes() != b.tobytes():
            out.append(path)
        return
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            out.append(f"{path}: length")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _state_differences(x, y, f"{path}[{i}]", seen, out)
        return
    if isinstance(a, dict):
        if a.keys() != b.keys():
            out.append(f"{path}: keys")
            return
        for key in a:
            _state_differences(a[key], b[key], f"{path}[{key!r}]", seen, out)
        return
    if hasattr(a, "__dict__") and type(a).__module__.startswith("rubin_scheduler"):
        for key, value in vars(a).items():
            _state_differences(value, vars(b).get(key), f"{path}.{key}", seen, out)
        return
    if isinstance(a, int | float | str | bool | np.number) and not (a == b or (a != a and b != b)):
        out.append(f"{path}: {a!r} != {b!r}")


def test_fast_preload_gives_rubin_schedulers_state(site_data) -> None:
    """vseq's pre-load path leaves every feature exactly as rubin_scheduler's own path does."""
    from vseq_resources.simulation import load_scheduler_config, preload_visits

    visits = synthetic_visits(3000, dt.date(2026, 10, 1), dt.date(2026, 11, 30))
    visits.loc[::50, "scheduler_note"] = "DD:COSMOS"  # ignored by every default survey
    with site_data.activated():
        config = "vseq_resources.simulation.default_config:get_scheduler"
        fast = load_scheduler_config(config).scheduler
        reference = load_scheduler_config(config).scheduler
        assert preload_visits(fast, visits) == 3000
        assert preload_visits(reference, visits, fast=False) == 3000
    differences: list[str] = []
    _state_differences(fast, reference, "scheduler", set(), differences)
    assert differences == []
    # The comparison sees the features: one more visit makes them differ.
    with site_data.activated():
        preload_visits(fast, synthetic_visits(20, dt.date(2026, 11, 30), dt.date(2026, 11, 30), seed=3))
    _state_differences(fast, reference, "scheduler", set(), differences)
    assert any("survey_features" in d for d in differences)
