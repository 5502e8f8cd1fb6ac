"""Asset keys: ``<telescope>/<name>`` for each telescope of the archive.

The names live in :mod:`vseq_resources.asset_names` (importable without Dagster), where the
library's partition loaders use them too.
"""

from __future__ import annotations

from dagster import AssetKey

from vseq_resources.asset_names import (
    COMPLETED_METADATA,
    COMPLETED_VISITS,
    CONSDB_VISITS,
    NIGHT_REVIEW,
    PRENIGHT_BRIEFING,
    PRENIGHT_INDEX,
    PRENIGHT_METADATA,
    PRENIGHT_SIMS,
)
from vseq_resources.config import TELESCOPES

__all__ = [
    "COMPLETED_METADATA",
    "COMPLETED_VISITS",
    "CONSDB_VISITS",
    "NIGHT_REVIEW",
    "PRENIGHT_BRIEFING",
    "PRENIGHT_INDEX",
    "PRENIGHT_METADATA",
    "PRENIGHT_SIMS",
    "asset_key",
    "group_name",
]


def asset_key(telescope: str, name: str) -> AssetKey:
    """The key of a per-telescope asset (``simonyi/consdb_visits``)."""
    if telescope not in TELESCOPES:
        raise ValueError(f"unknown telescope {telescope!r}: expected one of {', '.join(TELESCOPES)}")
    return AssetKey([telescope, name])


def group_name(telescope: str) -> str:
    """Assets are grouped by telescope in the UI."""
    return telescope
