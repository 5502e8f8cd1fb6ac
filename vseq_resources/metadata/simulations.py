"""Questions readers ask about simulations: the pre-night simulations of a night, a simulation
by ``(sim_creation_day_obs, daily_id)`` and its ``simulations_extra`` row.

The SQL comes from :mod:`.simulation_queries`: text rather than Core, because the shape of these
queries (candidates from one access path, lookups by key, correlated subqueries evaluated only for
returned rows, the exact index expressions) is what keeps their plans index-driven, and it must
not change under a Core rewrite. On a schema at revision 0007 or later the indexed form is used;
on a schema the reference created and nobody migrated, the plain form (same rows).
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
from .annotations import NOT_CHECK_FAILED_SQL
from .simulation_queries import (
    AGE_PATH,
    AGE_PATH_WORK,
    creation_day_obs,
    indexed_simulations_extra_sql,
    night_path,
    simulations_extra_sql,
    smallest_path_sql,
    tag_conditions,
    tag_path,
)
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

    def _simulations_covering(
        self,
        day_obs: DayLike,
        telescope: str,
        tags: Iterable[str],
        max_simulation_age: float | None,
        now: dt.datetime | None,
        with_stats: bool = False,
    ) -> list[sa.Row]:
        """``simulations_extra`` rows (plus ``stats``) of the simulations covering a night."""
        night = as_day(day_obs)
        wanted = tuple(dict.fromkeys(as_tag(t) for t in tags))
        cutoff = creation_cutoff(now, max_simulation_age) if max_simulation_age is not None else None
        conditions = [
            "m.telescope = :telescope",
            "m.first_day_obs <= :night",
            "m.last_day_obs >= :night",
            NOT_CHECK_FAILED_SQL,
        ]
        params: dict[str, Any] = {"telescope": telescope, "night": night, "stats_day_obs": night}
        if cutoff is not None:
            conditions.append("m.creation_time >= :cutoff")
            params["cutoff"] = cutoff
        tag_sql, tag_params = tag_conditions(wanted)
        conditions += tag_sql
        params.update(tag_params)
        with self._connect() as conn:
            if not self._is_indexed(conn):
                sql = simulations_extra_sql(conditions, with_stats=with_stats)
                return list(conn.execute(sa.text(sql), params))
            # Access paths, and the index entries each reads (its work, what the choice counts):
            # the age limit first (when there is one, few simulations are that young), then the
            # tags in the caller's order, the night alone last.
            paths: list[tuple[str, str]] = []
            if cutoff is not None:
                paths.append((AGE_PATH, AGE_PATH_WORK))
            with_cutoff = cutoff is not None
            paths += [
                (tag_path(f"tag_{i}", with_cutoff), tag_path(f"tag_{i}", False)) for i in range(len(wanted))
            ]
            if not wanted:
                paths.append((night_path("simulations", with_cutoff), night_path("simulations", False)))
            chosen = paths[0][0]
            if len(paths) > 1:
                works = [work for _, work in paths]
                chosen = paths[conn.execute(sa.text(smallest_path_sql(works)), params).scalar_one()][0]
            sql = indexed_simulations_extra_sql(chosen, conditions, with_stats=with_stats)
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
        that night, or None) with ``with_stats``. Oldest first. A simulation that failed an
        integrity check (tag ``check_failed``) is left out, so it is never indexed nor briefed.
        """
        rows = self._simulations_covering(day_obs, telescope, tags, max_simulation_age, now, with_stats)
        columns = (*s.SIMULATIONS_EXTRA_COLUMNS, "stats") if with_stats else s.SIMULATIONS_EXTRA_COLUMNS
        return frame(rows, columns)

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

    def simulation_metadata(
        self, visitseq_uuid: UuidLike, stats_day_obs: DayLike | None = None
    ) -> dict[str, Any]:
        """The sequence's ``simulations_extra`` row as a dict; with ``stats_day_obs``, also
        ``stats``: its statistics of that night as :meth:`prenight_simulations` gives them (None
        when it has none, or does not cover that night)."""
        with_stats = stats_day_obs is not None
        sql = simulations_extra_sql(["m.visitseq_uuid = :uuid"], with_stats=with_stats)
        params: dict[str, Any] = {"uuid": as_uuid(visitseq_uuid)}
        if with_stats:
            params["stats_day_obs"] = as_day(stats_day_obs, "stats_day_obs")
        rows = self._rows(sql, params)
        if not rows:
            raise NotFoundError(f"no simulation {visitseq_uuid} in schema {self.schema!r}")
        columns = (*s.SIMULATIONS_EXTRA_COLUMNS, "stats") if with_stats else s.SIMULATIONS_EXTRA_COLUMNS
        return dict(zip(columns, map(plain, rows[0]), strict=True))
