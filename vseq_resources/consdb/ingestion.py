"""Whether ConsDB has ingested a night: the one rule, for the real ConsDB and the local one.

**Rule.** ConsDB has ingested day_obs D when its ``cdb_<instrument>.exposure`` table holds an
exposure of D or of a later day_obs, whatever its kind (science, bias, dark, flat, ...).

What the rule relies on:

- ``exposure`` records every raw image the camera takes, not only on-sky visits: the schema says
  "Information from observatory systems about each raw image taken" (``cdb_lsstcam.yaml`` and
  ``cdb_latiss.yaml`` of ``lsst-sdm-schemas``, the schema vseq builds its local ConsDB from), and
  its ``img_type`` and ``can_see_sky`` columns exist to tell calibrations from visits;
- the observatory takes daily calibrations (biases, darks, flats) every afternoon, with the dome
  closed, so a night lost to weather still has exposures of its day_obs;
- ConsDB is filled as exposures are taken, in time order, so an exposure of a later day_obs means
  D is past: a day with no exposure at all (a shutdown) is ingested, and empty, once anything
  later is recorded.

So a night ConsDB answers with no visit is archived as an empty night (a real one: weather,
shutdown) only when the rule holds; otherwise :func:`require_ingested` raises
:class:`NightNotIngestedError` and nothing is archived. A night that is only partly ingested
(exposures of D are there, some visits not yet) is archived with what is there; when the rest
arrives, archiving the night again records the new content as a newer sequence
(:mod:`vseq_resources.completed_night`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dayobs import dayobs_int, parse_dayobs
from .client import ConsDBError
from .instruments import check_instrument

if TYPE_CHECKING:
    from .client import ConsDBClient


class NightNotIngestedError(ConsDBError):
    """ConsDB holds no exposure of the night nor of any later day: it has not ingested it yet."""


@dataclass(frozen=True)
class NightIngestion:
    """What ConsDB holds of a day_obs and after, as the rule reads it."""

    instrument: str
    day_obs: dt.date
    exposures: int
    """Exposures of day_obs itself, calibrations included."""
    latest_day_obs: dt.date | None
    """The newest day_obs with an exposure, from day_obs on (None: none)."""

    @property
    def ingested(self) -> bool:
        """The rule: an exposure of day_obs or of a later day is recorded."""
        return self.latest_day_obs is not None

    def empty_reason(self) -> str:
        """Why an ingested night has no visit, in one line (for the archive's metadata)."""
        day = dayobs_int(self.day_obs)
        if self.exposures:
            return (
                f"ConsDB has {self.exposures} exposure(s) of day_obs {day} (calibrations included) "
                "but no on-sky visit: nothing was observed (weather, engineering or shutdown)"
            )
        return (
            f"ConsDB has no exposure of day_obs {day} but has exposures of day_obs "
            f"{dayobs_int(self.latest_day_obs or self.day_obs)}: the camera took nothing that day"
        )


def ingestion_query(instrument: str, day_obs: str | int | dt.date) -> str:
    """The SQL the rule runs: exposures of day_obs, and the newest day_obs from it on."""
    schema = f"cdb_{check_instrument(instrument)}"
    day = dayobs_int(day_obs)
    return (
        f"SELECT count(*) FILTER (WHERE e.day_obs = {day}) AS exposures, max(e.day_obs) AS latest_day_obs\n"
        f"FROM {schema}.exposure AS e\nWHERE e.day_obs >= {day}"
    )


def night_ingestion(client: ConsDBClient, instrument: str, day_obs: str | int | dt.date) -> NightIngestion:
    """Ask ConsDB (any client: SQL or REST) what it holds of ``day_obs`` and after."""
    night = parse_dayobs(day_obs)
    row = client.query(ingestion_query(instrument, night))
    exposures = int(row["exposures"].iloc[0]) if len(row) else 0
    latest = row["latest_day_obs"].iloc[0] if len(row) else None
    latest_day = None if latest is None or latest != latest else parse_dayobs(int(latest))
    return NightIngestion(instrument, night, exposures, latest_day)


def require_ingested(
    client: ConsDBClient, instrument: str, day_obs: str | int | dt.date, where: str = "ConsDB"
) -> NightIngestion:
    """:func:`night_ingestion`, raising :class:`NightNotIngestedError` when the rule does not hold."""
    found = night_ingestion(client, instrument, day_obs)
    if not found.ingested:
        raise NightNotIngestedError(
            f"{where} has not ingested day_obs {dayobs_int(found.day_obs)} ({instrument}): it holds no "
            "exposure of that day or later"
        )
    return found
