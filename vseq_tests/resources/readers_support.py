"""Pre-night simulations recorded straight into an archive, for the reader and briefing tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from vseq_resources.archive import VisitSequenceArchive
from vseq_tests.resources.consdb.synthetic import synthetic_night

NOMINAL_TAGS = ("prenight", "ideal", "nominal")


def sim_visits(nights: Sequence[str], per_night: int = 60, seed: int = 0) -> pd.DataFrame:
    """Plausible opsim visits: ``per_night`` visits in each night (dayobs) of ``nights``."""
    frames = [synthetic_night(night, per_night, seed=seed + i, night=i + 1) for i, night in enumerate(nights)]
    visits = pd.concat(frames, ignore_index=True)
    visits["observationId"] = range(len(visits))
    return visits


def record_sim(
    archive: VisitSequenceArchive,
    label: str,
    nights: Sequence[str],
    tags: Sequence[str] = NOMINAL_TAGS,
    created: str = "2026-04-11T14:00:00+00:00",
    *,
    per_night: int = 60,
    seed: int = 0,
    nightly_stats: bool = True,
    telescope: str = "simonyi",
) -> str:
    """Record a ``simulations`` sequence covering ``nights``; returns its UUID as a string."""
    recorded = archive.record_sequence(
        "simulations",
        sim_visits(nights, per_night, seed),
        label=label,
        telescope=telescope,
        first_day_obs=nights[0],
        last_day_obs=nights[-1],
        creation_time=dt.datetime.fromisoformat(created),
        tags=tags,
        nightly_stats=nightly_stats,
        scheduler_version="4.6.0",
        sim_runner_kwargs={"record_rewards": False},
    )
    return str(recorded.uuid)
