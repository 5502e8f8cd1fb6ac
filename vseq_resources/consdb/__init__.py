"""ConsDB access: clients (SQL and REST), the night query, conversion to the opsim schema.

The local ConsDB builder (``local``) and REST service (``rest_server``) are imported from their
modules: they are for tests and demos, not for reading production visits. The conversion needs
rubin_scheduler (seconds to import), so its names are loaded on first use, not with the package.
"""

from typing import Any

from .client import (
    ConsDBAuthError,
    ConsDBClient,
    ConsDBError,
    ConsDBQueryError,
    ConsDBUnavailableError,
    RestConsDBClient,
    SqlConsDBClient,
)
from .instruments import instrument_for, telescope_for
from .query import night_visits_query

__all__ = [
    "OPSIM_COLUMNS",
    "ConsDBAuthError",
    "ConsDBClient",
    "ConsDBError",
    "ConsDBQueryError",
    "ConsDBUnavailableError",
    "RestConsDBClient",
    "SqlConsDBClient",
    "consdb_to_opsim",
    "empty_opsim_visits",
    "instrument_for",
    "night_visits_query",
    "telescope_for",
]

_CONVERT_NAMES = ("OPSIM_COLUMNS", "consdb_to_opsim", "empty_opsim_visits")


def __getattr__(name: str) -> Any:
    if name in _CONVERT_NAMES:
        from . import convert

        return getattr(convert, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
