"""Questions readers ask about simulations: the pre-night simulations of a night, a simulation
by ``(sim_creation_day_obs, daily_id)`` and its ``simulations_extra`` row.

The SQL comes from :mod:`.simulation_queries`: text rather than Core, because the shape of these
queries (correlated subqueries evaluated only for returned rows, the exact index expressions) is
what keeps their plans index-driven, and it must not change under a Core rewrite.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import InvalidInputError, NotFoundError
from . import schema as s
from .access import DatabaseAccess
from .simulation_queries import creation_day_obs, simulations_extra_sql, tag_conditions
from .values import as_day, as_tag, as_uuid, creation_cutoff, frame, plain

if TYPE_CHECKING:
    import pandas as pd

UuidLike = uuid.UUID | str
DayLike = str | int | dt.date

DEFAULT_PRENIGHT_TAGS = ("prenight", "ideal", "nominal")


class Simulations(DatabaseAccess):
    """Reading simulations as ``simulations_extra`` rows."""

    def _rows(self, sql: str, params: dict[str, Any]) -> list[sa.Row]:
        with self._connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def prenight_simulations(
        self,
        day_obs: DayLike,
        telescope: str,
        tags: Iterable[str] = DEFAULT_PRENIGHT_TAGS,
        max_simulation_age: float | None = 2,
        with_stats: bool = False,
        now: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """Simulations of ``telescope`` covering night ``day_obs``, carrying every tag in ``tags``
        (none: no tag filter), created less than ``max_simulation_age`` days before ``now`` (None:
        any age); every ``simulations_extra`` column, plus ``stats`` (value name -> statistics of
        that night, or None) with ``with_stats``. Oldest first.
        """
        sql, params = _prenight_query(day_obs, telescope, tags, max_simulation_age, now, with_stats)
        columns = (*s.SIMULATIONS_EXTRA_COLUMNS, "stats") if with_stats else s.SIMULATIONS_EXTRA_COLUMNS
        return frame(self._rows(sql, params), columns)

    def uuid_for_daily_id(self, sim_creation_day_obs: DayLike, daily_id: int) -> uuid.UUID:
        """The simulation called "``sim_creation_day_obs`` #``daily_id``" in this database."""
        day = as_day(sim_creation_day_obs, "sim_creation_day_obs")
        if isinstance(daily_id, bool) or not isinstance(daily_id, int) or daily_id < 1:
            raise InvalidInputError(f"daily_id must be a positive integer, not {daily_id!r}")
        sql = (
            f"SELECT visitseq_uuid FROM simulations AS m WHERE {creation_day_obs('m')} = :day "
            "ORDER BY creation_time, visitseq_uuid OFFSET :skip LIMIT 1"
        )
        rows = self._rows(sql, {"day": day, "skip": daily_id - 1})
        if not rows:
            raise NotFoundError(f"no simulation {day.isoformat()} #{daily_id}")
        return as_uuid(rows[0][0])

    def simulation_metadata(self, visitseq_uuid: UuidLike) -> dict[str, Any]:
        """The sequence's ``simulations_extra`` row as a dict."""
        sql = simulations_extra_sql(["m.visitseq_uuid = :uuid"])
        rows = self._rows(sql, {"uuid": as_uuid(visitseq_uuid)})
        if not rows:
            raise NotFoundError(f"no simulation {visitseq_uuid} in schema {self.schema!r}")
        return dict(zip(s.SIMULATIONS_EXTRA_COLUMNS, map(plain, rows[0]), strict=True))


def _prenight_query(
    day_obs: DayLike,
    telescope: str,
    tags: Iterable[str],
    max_simulation_age: float | None,
    now: dt.datetime | None,
    with_stats: bool = False,
) -> tuple[str, dict[str, Any]]:
    night = as_day(day_obs)
    conditions = ["m.telescope = :telescope", "m.first_day_obs <= :night", "m.last_day_obs >= :night"]
    params: dict[str, Any] = {"telescope": telescope, "night": night}
    if max_simulation_age is not None:
        conditions.append("m.creation_time >= :cutoff")
        params["cutoff"] = creation_cutoff(now, max_simulation_age)
    tag_sql, tag_params = tag_conditions(tuple(as_tag(t) for t in tags))
    conditions += tag_sql
    params.update(tag_params)
    if with_stats:
        params["stats_day_obs"] = night
    return simulations_extra_sql(conditions, with_stats=with_stats), params
