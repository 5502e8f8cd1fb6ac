"""Dayobs arithmetic, in one place.

A dayobs is the calendar date in UTC-12 (SITCOMTN-032): it rolls over at 12:00 UTC, morning in
Chile, so all the visits of one night share one dayobs. The IANA zone with that offset is
``Etc/GMT+12`` (POSIX signs are inverted). Everything in vseq that turns a time into a dayobs, or a
dayobs into times, goes through this module, and every time it returns is time-zone aware.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from .errors import InvalidInputError

DAYOBS_TIMEZONE = "Etc/GMT+12"
DAYOBS_TZ = ZoneInfo(DAYOBS_TIMEZONE)
DAYOBS_OFFSET = dt.timedelta(hours=12)
MJD_EPOCH = dt.datetime(1858, 11, 17, tzinfo=dt.UTC)

_DAYOBS_PATTERN = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


class DayobsError(InvalidInputError):
    """A value that cannot be read as a dayobs (a ``ValueError`` and a ``VseqError``)."""


def parse_dayobs(value: str | int | dt.date) -> dt.date:
    """Read a dayobs given as ``YYYY-MM-DD``, ``YYYYMMDD`` (string or int) or a date."""
    if isinstance(value, dt.datetime):
        return dayobs_of(value)
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    match = _DAYOBS_PATTERN.match(text)
    if match is None:
        raise DayobsError(f"invalid dayobs {text!r}: expected YYYY-MM-DD or YYYYMMDD")
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as err:
        raise DayobsError(f"invalid dayobs {text!r}: {err}") from None


def dayobs_of(when: dt.datetime) -> dt.date:
    """The dayobs of an instant. Naive datetimes are refused: they are ambiguous."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: give a time zone (vseq times are aware)")
    return when.astimezone(DAYOBS_TZ).date()


def dayobs_int(day: str | int | dt.date) -> int:
    """A dayobs as the integer ``YYYYMMDD`` that ConsDB uses."""
    d = parse_dayobs(day)
    return d.year * 10000 + d.month * 100 + d.day


def dayobs_start(day: str | int | dt.date) -> dt.datetime:
    """The instant a dayobs starts (12:00 UTC on that date), aware, in UTC."""
    d = parse_dayobs(day)
    return dt.datetime(d.year, d.month, d.day, 12, tzinfo=dt.UTC)


def dayobs_end(day: str | int | dt.date) -> dt.datetime:
    """The instant a dayobs ends (12:00 UTC the next date), aware, in UTC."""
    return dayobs_start(day) + dt.timedelta(days=1)


def mjd_of(when: dt.datetime) -> float:
    """Modified Julian Date (UTC scale) of an aware instant."""
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: give a time zone")
    return (when - MJD_EPOCH).total_seconds() / 86400.0


def datetime_of_mjd(mjd: float) -> dt.datetime:
    """The aware UTC instant of a Modified Julian Date (UTC scale)."""
    return MJD_EPOCH + dt.timedelta(days=float(mjd))


def dayobs_of_mjd(mjd: float) -> dt.date:
    """The dayobs of a Modified Julian Date: the MJD shifted by half a day, floored."""
    return dayobs_of(datetime_of_mjd(mjd))


def dayobs_mjd_start(day: str | int | dt.date) -> float:
    """The MJD at which a dayobs starts (an integer + 0.5)."""
    return mjd_of(dayobs_start(day))


def today_dayobs(now: dt.datetime | None = None) -> dt.date:
    """The dayobs now (or at ``now``)."""
    return dayobs_of(now or dt.datetime.now(dt.UTC))
