"""Dayobs partitions: the one place that says what a partition of a vseq asset is.

A partition key is a dayobs (``YYYY-MM-DD``, the date in UTC-12, SITCOMTN-032). Dagster's
``DailyPartitionsDefinition`` in the ``Etc/GMT+12`` zone gives exactly that: key ``2025-10-16``
spans 2025-10-16T12:00Z to 2025-10-17T12:00Z.

Two definitions share start date and zone and differ only in ``end_offset``:

- :data:`completed_partitions` (``end_offset=0``): the newest partition is the night that has just
  ended, because completed visits can only be archived once the night is over.
- :data:`prenight_partitions` (``end_offset=1``): the partition of the night about to start already
  exists during the day, for the afternoon's pre-night simulations.

The first partition is ``$VSEQ_PARTITIONS_START`` (``YYYY-MM-DD`` or ``YYYYMMDD``), by default
LSSTCam's first photon (:class:`vseq_resources.config.ScheduleSettings`). The value is read when
the definitions are loaded.
"""

from __future__ import annotations

import datetime as dt

from dagster import DailyPartitionsDefinition, TimeWindowPartitionMapping

from vseq_resources.config import ScheduleSettings
from vseq_resources.dayobs import DAYOBS_TIMEZONE, dayobs_end, parse_dayobs


def partitions_start() -> dt.date:
    """The first dayobs partition, from ``$VSEQ_PARTITIONS_START`` or the default."""
    return ScheduleSettings.from_env().partitions_start


def dayobs_partitions(end_offset: int = 0, start: dt.date | str | None = None) -> DailyPartitionsDefinition:
    """Daily dayobs partitions (``Etc/GMT+12``) starting at ``start`` (default: the configured start)."""
    first = parse_dayobs(start) if start is not None else partitions_start()
    return DailyPartitionsDefinition(
        start_date=first.isoformat(),
        timezone=DAYOBS_TIMEZONE,
        fmt="%Y-%m-%d",
        end_offset=end_offset,
    )


completed_partitions = dayobs_partitions(end_offset=0)
"""Nights that have ended: the partitions of ConsDB visits and archived completed sequences."""

prenight_partitions = dayobs_partitions(end_offset=1)
"""Nights up to the one about to start: the partitions of pre-night work."""

previous_night = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
"""Maps dayobs D to D-1 (e.g. a pre-night simulation of D to the completed visits of D-1)."""


def partition_dayobs(partition_key: str) -> dt.date:
    """The dayobs of a partition key."""
    return parse_dayobs(partition_key)


def is_complete(partition_key: str, now: dt.datetime | None = None) -> bool:
    """Whether the night of a partition has ended (dayobs D ends at D+1 12:00 UTC)."""
    return (now or dt.datetime.now(dt.UTC)) >= dayobs_end(partition_key)
