"""Turning the values callers give into the values the columns hold, and back.

Callers hand over what they have (a UUID string, a hex digest, ``20251208``, a JSON string); the
database layer stores one canonical form and returns plain Python values (``uuid.UUID``,
``datetime.date``, aware ``datetime``, ``bytes``). Anything that cannot be read raises
:class:`InvalidInputError` naming the field, before any SQL runs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID
from sqlalchemy.types import BOOLEAN, DATE, INTEGER, TEXT, TIMESTAMP, Float

from ..dayobs import DayobsError, parse_dayobs
from ..errors import InvalidInputError

if TYPE_CHECKING:  # pandas and numpy are imported by the functions that need them (CLI start-up)
    import pandas as pd

SHA256_LENGTH = 32


def as_uuid(value: uuid.UUID | str, field: str = "visitseq_uuid") -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInputError(f"{field}: {value!r} is not a UUID") from None


def as_sha256(value: bytes | bytearray | memoryview | str, field: str = "sha256") -> bytes:
    """A SHA-256 digest from its 32 bytes or its 64 hex digits (how the CLI passes it)."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise InvalidInputError(f"{field}: {value!r} is not a hexadecimal digest") from None
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInputError(f"{field}: expected bytes or hex, not {type(value).__name__}")
    digest = bytes(value)
    if len(digest) != SHA256_LENGTH:
        raise InvalidInputError(f"{field}: a SHA-256 digest has 32 bytes, not {len(digest)}")
    return digest


def as_day(value: str | int | dt.date, field: str = "day_obs") -> dt.date:
    try:
        return parse_dayobs(value)
    except DayobsError as err:
        raise InvalidInputError(f"{field}: {err}") from None


def as_time(value: dt.datetime | str | pd.Timestamp, field: str = "creation_time") -> dt.datetime:
    """An aware instant; naive times are refused because the database would read them in its zone."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(f"{field}: {value!r} is not an ISO time") from None
    if isinstance(value, dt.datetime) and hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(f"{field}: expected a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{field}: {value!r} has no time zone")
    return in_time_range(value, field)


def in_time_range(value: dt.datetime, field: str = "creation_time") -> dt.datetime:
    """``value`` (aware) if it has a UTC form and a dayobs (UTC-12 h) inside years 1-9999.

    Python dates stop at those years, so a time such as ``0001-01-01`` (whose dayobs would be
    0000-12-31) could be stored but never read back as a dayobs.
    """
    from ..dayobs import dayobs_of

    try:
        value.astimezone(dt.UTC)
        dayobs_of(value)
    except OverflowError:
        raise InvalidInputError(
            f"{field}: {value.isoformat()} is out of range (its UTC time and its dayobs, UTC-12 h, must "
            "fall in the years 1 to 9999): give the real time, e.g. 2026-04-11T12:00:00+00:00"
        ) from None
    return value


def as_json(value: Any, field: str) -> Any:
    """A JSON value; a string is read as JSON text (so the CLI can pass ``'{"a": 1}'``)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"{field}: not valid JSON ({err})") from None
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{field}: not JSON-serialisable ({err})") from None
    return value


def as_text(value: Any, field: str) -> str:
    """A text column's value: any string but one with controls or bidirectional controls, and for
    the label also one with no visible character (the rule of `vseq_resources.text`)."""
    from ..text import displayed, problem

    if not isinstance(value, str):
        raise InvalidInputError(f"{field}: expected a string, not {type(value).__name__}")
    why = problem(value, need_visible=field == "visitseq_label")
    if why is not None:
        raise InvalidInputError(f"{field}: {displayed(value)[:80]!r} {why}: remove it")
    return value


def as_number(value: Any, field: str, integer: bool = False) -> int | float | None:
    """A number for a statistics column; NaN becomes NULL (JSON, and so the views, have no NaN)."""
    if value is None or (isinstance(value, Real) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidInputError(f"{field}: expected a number, not {value!r}")
    if integer:
        if not isinstance(value, Integral) and not float(value).is_integer():
            raise InvalidInputError(f"{field}: expected an integer, not {value!r}")
        return int(value)
    return float(value)


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool) or (
        type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    ):
        return bool(value)
    raise InvalidInputError(f"{field}: expected true or false, not {value!r}")


def for_column(column: Column, value: Any) -> Any:
    """``value`` converted for ``column`` according to the column's type (None stays NULL)."""
    if value is None:
        if not column.nullable:
            raise InvalidInputError(f"{column.name} cannot be empty")
        return None
    kind = column.type
    if isinstance(kind, UUID):
        return as_uuid(value, column.name)
    if isinstance(kind, BYTEA):
        return as_sha256(value, column.name)
    if isinstance(kind, DATE):
        return as_day(value, column.name)
    if isinstance(kind, TIMESTAMP):
        return as_time(value, column.name)
    if isinstance(kind, JSONB):
        return as_json(value, column.name)
    if isinstance(kind, BOOLEAN):
        return as_bool(value, column.name)
    if isinstance(kind, INTEGER):
        return as_number(value, column.name, integer=True)
    if isinstance(kind, Float):
        return as_number(value, column.name)
    if isinstance(kind, TEXT):
        return as_text(value, column.name)
    raise TypeError(f"no conversion for column {column.name} of type {kind}")  # a schema.py bug


def plain(value: Any) -> Any:
    """A value from psycopg2 as the plain Python value callers get (BYTEA arrives as memoryview)."""
    return bytes(value) if isinstance(value, memoryview) else value


def frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of result rows, with the columns even when there are no rows."""
    import pandas as pd

    return pd.DataFrame([[plain(v) for v in row] for row in rows], columns=list(columns))


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def as_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise InvalidInputError(f"a tag is a non-empty string, not {tag!r}")
    return tag


def creation_cutoff(now: dt.datetime | None, max_age_days: float) -> dt.datetime:
    """The oldest creation time still younger than ``max_age_days`` at ``now`` (default: now)."""
    reference = as_time(now, "now") if now is not None else dt.datetime.now(dt.UTC)
    return reference - dt.timedelta(days=max_age_days)
