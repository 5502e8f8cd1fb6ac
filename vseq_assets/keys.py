"""Asset keys: ``<telescope>/<name>`` for each telescope of the archive."""

from __future__ import annotations

from dagster import AssetKey

from vseq_resources.config import TELESCOPES

CONSDB_VISITS = "consdb_visits"
COMPLETED_VISITS = "completed_visits"
COMPLETED_METADATA = "completed_metadata"
PRENIGHT_SIMS = "prenight_sims"
"""The archived pre-night simulations of a night (their ``visits.h5`` and side files in the store)."""
PRENIGHT_METADATA = "prenight_metadata"
"""Their ``simulations`` (and ``mixedvisitseq``) metadata rows."""
PRENIGHT_INDEX = "prenight_index"
"""The JSON snapshots of the pre-night simulations covering a night (section 4 of the interface)."""
PRENIGHT_BRIEFING = "prenight_briefing"
"""Figures of the night's nominal simulation, archived next to it and shown in the UI."""


def asset_key(telescope: str, name: str) -> AssetKey:
    """The key of a per-telescope asset (``simonyi/consdb_visits``)."""
    if telescope not in TELESCOPES:
        raise ValueError(f"unknown telescope {telescope!r}: expected one of {', '.join(TELESCOPES)}")
    return AssetKey([telescope, name])


def group_name(telescope: str) -> str:
    """Assets are grouped by telescope in the UI."""
    return telescope
