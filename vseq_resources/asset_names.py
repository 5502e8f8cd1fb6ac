"""The names of vseq's Dagster assets: one home, importable without Dagster.

Every per-telescope asset's key is ``<telescope>/<name>`` (``simonyi/completed_visits``).
:mod:`vseq_assets.keys` builds the Dagster keys from these names, and the library's partition
loaders (:mod:`vseq_resources.readers.partitions`) map the same names to what reads a partition
back from the archive, so the two cannot drift apart.
"""

from __future__ import annotations

from .config import TELESCOPES

CONSDB_VISITS = "consdb_visits"
"""The completed visits of a night as the ConsDB returned them (archived as the night's sequence)."""
COMPLETED_VISITS = "completed_visits"
"""The night's archived completed sequence: its ``visits.h5`` in the store."""
COMPLETED_METADATA = "completed_metadata"
"""Its ``completed`` metadata row."""
PRENIGHT_SIMS = "prenight_sims"
"""The archived pre-night simulations of a night (their ``visits.h5`` and side files in the store)."""
PRENIGHT_METADATA = "prenight_metadata"
"""Their ``simulations`` (and ``mixedvisitseq``) metadata rows."""
PRENIGHT_INDEX = "prenight_index"
"""The JSON snapshots of the pre-night simulations covering a night (section 4 of the interface)."""
PRENIGHT_BRIEFING = "prenight_briefing"
"""Figures of the night's nominal simulation, archived next to it and shown in the UI."""
NIGHT_REVIEW = "night_review"
"""The night's completed visits against its pre-night plan: numbers, verdict, figures archived
next to the completed sequence."""

ASSET_NAMES = (
    CONSDB_VISITS,
    COMPLETED_VISITS,
    COMPLETED_METADATA,
    PRENIGHT_SIMS,
    PRENIGHT_METADATA,
    PRENIGHT_INDEX,
    PRENIGHT_BRIEFING,
    NIGHT_REVIEW,
)


def split_asset_key(key: object) -> tuple[str, str]:
    """``(telescope, name)`` of a vseq asset key given as ``"simonyi/prenight_index"``,
    ``["simonyi", "prenight_index"]`` or a Dagster ``AssetKey`` (anything with ``path``).

    Raises ``ValueError`` naming the key for anything else.
    """
    if hasattr(key, "path"):
        parts = list(key.path)
    elif isinstance(key, str):
        parts = key.split("/")
    else:
        parts = list(key)  # type: ignore[call-overload]
    if len(parts) != 2 or parts[0] not in TELESCOPES or parts[1] not in ASSET_NAMES:
        raise ValueError(
            f"not a vseq asset key: {key!r} (expected <telescope>/<name> with a telescope of "
            f"{', '.join(TELESCOPES)} and a name of {', '.join(ASSET_NAMES)})"
        )
    return str(parts[0]), str(parts[1])
