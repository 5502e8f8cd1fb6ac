"""Small, realistic opsim outputs and a runner for the ``vseqarchive`` commands."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from vseq_resources.dayobs import dayobs_mjd_start

BANDS = ("u", "g", "r", "i", "z", "y")


def opsim_visits(nights: list[str] | tuple[str, ...], per_night: int = 40, seed: int = 1) -> pd.DataFrame:
    """Visits as rubin_scheduler's opsim writes them: ``per_night`` visits in each night.

    Each night runs from about 23:30 to 09:30 UTC (Chilean night), so every visit's dayobs is
    the night it belongs to.
    """
    rng = np.random.default_rng(seed)
    frames = []
    observation_id = 0
    for index, night in enumerate(nights):
        start = dayobs_mjd_start(night) + 11.5 / 24  # 23:30 UTC
        mjd = start + np.sort(rng.uniform(0, 10 / 24, per_night))
        band = rng.choice(BANDS, per_night)
        frames.append(
            pd.DataFrame(
                {
                    "observationId": np.arange(observation_id, observation_id + per_night, dtype=np.int64),
                    "observationStartMJD": mjd,
                    "fieldRA": rng.uniform(0, 360, per_night),
                    "fieldDec": rng.uniform(-80, 10, per_night),
                    "band": band,
                    "filter": band,
                    "rotSkyPos": rng.uniform(0, 360, per_night),
                    "visitExposureTime": np.full(per_night, 30.0),
                    "night": np.full(per_night, 1000 + index, dtype=np.int64),
                    "target_name": [f"field_{i % 7}" for i in range(per_night)],
                    "seeingFwhmEff": rng.uniform(0.6, 1.4, per_night),
                    "fiveSigmaDepth": rng.uniform(22.0, 24.5, per_night),
                    "skyBrightness": rng.uniform(18.0, 21.5, per_night),
                    "airmass": rng.uniform(1.0, 2.0, per_night),
                    "altitude": rng.uniform(30, 89, per_night),
                    "azimuth": rng.uniform(0, 360, per_night),
                    "scheduler_note": ["greedy"] * per_night,
                    "observation_reason": ["survey"] * per_night,
                    "science_program": ["BLOCK-365"] * per_night,
                }
            )
        )
        observation_id += per_night
    return pd.concat(frames, ignore_index=True)


def make_opsim_db(
    path: Path, nights: list[str] | tuple[str, ...] = ("2026-04-11",), per_night: int = 40, seed: int = 1
) -> Path:
    """An opsim sqlite file with ``observations`` and ``info`` tables."""
    visits = opsim_visits(nights, per_night, seed)
    info = pd.DataFrame(
        {"Parameter": ["Date, ymd", "rubin_scheduler.__version__"], "Value": [str(nights[0]), "4.6.0"]}
    )
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        visits.to_sql("observations", conn, index=False)
        info.to_sql("info", conn, index=False)
    conn.close()
    return path


def make_rewards_h5(path: Path) -> Path:
    reward_df = pd.DataFrame({"survey_index": [0, 1], "reward": [1.5, 0.25]})
    obs_rewards = pd.DataFrame({"observationId": [0, 1], "reward": [1.5, 0.25]})
    reward_df.to_hdf(path, key="reward_df", mode="w")
    obs_rewards.to_hdf(path, key="obs_rewards", mode="a")
    return path


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
