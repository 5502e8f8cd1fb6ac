"""The production reader names (``rubin_sim.sim_archive``), each on a reader from the environment.

Code written against the reference ports by changing the import: same names, same arguments.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .obsloctap import OBSLOCTAP_COLUMNS
from .reader import ArchiveReader
from .selection import DEFAULT_MAX_AGE, LATEST_TAGS

if TYPE_CHECKING:
    import pandas as pd


def get_prenight_index(day_obs: str | int | dt.date, telescope: str = "simonyi") -> pd.DataFrame:
    with ArchiveReader.from_env() as reader:
        return reader.prenight_index(day_obs, telescope)


def find_latest_prenight_sim_for_nights(
    first_day_obs: str | int | dt.date | None = None,
    last_day_obs: str | int | dt.date | None = None,
    tags: tuple[str, ...] = LATEST_TAGS,
    telescope: str = "simonyi",
    max_simulation_age: float = DEFAULT_MAX_AGE,
) -> dict[str, Any]:
    with ArchiveReader.from_env() as reader:
        return (
            reader.latest_simulation(first_day_obs, last_day_obs, telescope, tags, max_simulation_age) or {}
        )


def fetch_sim_for_nights(
    first_day_obs: str | int | dt.date | None = None,
    last_day_obs: str | int | dt.date | None = None,
    tags: tuple[str, ...] = LATEST_TAGS,
    telescope: str = "simonyi",
    max_simulation_age: float = DEFAULT_MAX_AGE,
) -> pd.DataFrame:
    with ArchiveReader.from_env() as reader:
        return reader.visits_for_nights(first_day_obs, last_day_obs, telescope, tags, max_simulation_age)


def fetch_obsloctap_visits(
    day_obs: str | None = None,
    nights: int = 2,
    telescope: str = "simonyi",
    columns: Sequence[str] = OBSLOCTAP_COLUMNS,
) -> pd.DataFrame:
    with ArchiveReader.from_env() as reader:
        return reader.obsloctap_visits(day_obs, nights, telescope, columns)


def fetch_sim_stats_for_night(
    day_obs: str | int | None = None,
    tags: tuple[str, ...] = LATEST_TAGS,
    telescope: str = "simonyi",
    max_simulation_age: int = DEFAULT_MAX_AGE,
) -> dict[str, Any]:
    with ArchiveReader.from_env() as reader:
        return reader.night_stats(day_obs, telescope, tags, max_simulation_age)


def get_sim_uuid(
    day_obs: str | int | dt.date, sim_date: str | int | dt.date, daily_id: int | str
) -> uuidlib.UUID:
    with ArchiveReader.from_env() as reader:
        return reader.sim_uuid(sim_date, daily_id, day_obs=day_obs)


def get_sim_index_info(day_obs: str | int | dt.date, visitseq_uuid: str | uuidlib.UUID) -> dict[str, Any]:
    with ArchiveReader.from_env() as reader:
        return reader.sim_metadata(visitseq_uuid, day_obs)
