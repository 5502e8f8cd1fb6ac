"""The value of an archived partition of a vseq asset: one mapping from asset name to loader.

:func:`load_partition` (any process) and the Dagster IO manager
(:class:`vseq_resources.dagster_resources.VseqArchiveIOManager`) both read partitions through
:data:`PARTITION_LOADERS`, from the archive itself (the store of record), through the one
verified read path for visits files.

Which simulations belong to a pre-night partition is decided by :func:`partition_simulations`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..asset_names import (
    COMPLETED_METADATA,
    COMPLETED_VISITS,
    CONSDB_VISITS,
    PRENIGHT_BRIEFING,
    PRENIGHT_INDEX,
    PRENIGHT_METADATA,
    PRENIGHT_SIMS,
    split_asset_key,
)
from ..dayobs import parse_dayobs
from ..errors import InvalidInputError
from .reader import ArchiveReader
from .selection import LATEST_TAGS, NoMatchingSimulationsError, select_latest

if TYPE_CHECKING:
    import pandas as pd

PartitionLoader = Callable[[ArchiveReader, str, dt.date], Any]
"""Reads one partition: ``loader(reader, telescope, night)``."""

BRIEFING_FILE_PREFIX = "briefing_"


def partition_simulations(index: pd.DataFrame, night: dt.date) -> pd.DataFrame:
    """The rows of a night's pre-night index that belong to the night's pre-night partition.

    Rule: a pre-night partition's simulations are the pre-night simulations whose first night
    (``first_day_obs``) is the partition's night, whenever they were run. A simulation made for
    an earlier night that also covers this one belongs to that earlier partition, and a backfill
    of an earlier night (run today) never becomes this night's answer; a re-run of this
    partition (a backfill of this night) adds to it, and its newest nominal one is the value, as
    the partition's newest materialization in Dagster is.
    """
    if index.empty:
        return index
    return index.loc[index["first_day_obs"] == night]


def _completed_visits(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return reader.completed_visits(telescope, night)


def _completed_metadata(reader: ArchiveReader, telescope: str, night: dt.date) -> dict[str, Any]:
    row = reader.newest_completed(telescope, night)
    db = reader.database()
    assert db is not None  # newest_completed answered from it
    return db.get_metadata(row["visitseq_uuid"], table="completed")


def _prenight_index(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return reader.prenight_index(night, telescope)


def _prenight_metadata(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return partition_simulations(reader.prenight_index(night, telescope), night)


def _own_nominal(reader: ArchiveReader, telescope: str, night: dt.date) -> dict[str, Any]:
    sim = select_latest(
        partition_simulations(reader.prenight_index(night, telescope), night), LATEST_TAGS, None
    )
    if sim is None:
        raise NoMatchingSimulationsError(
            f"no matching simulations: no ideal/nominal {telescope} pre-night simulation starts on {night}"
        )
    return sim


def _prenight_sims(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return reader.visits(_own_nominal(reader, telescope, night), [night])


def _prenight_briefing(reader: ArchiveReader, telescope: str, night: dt.date) -> dict[str, str]:
    files = _own_nominal(reader, telescope, night).get("files") or {}
    return {k: v for k, v in files.items() if k.startswith(BRIEFING_FILE_PREFIX)}


PARTITION_LOADERS: Mapping[str, PartitionLoader] = {
    CONSDB_VISITS: _completed_visits,
    COMPLETED_VISITS: _completed_visits,
    COMPLETED_METADATA: _completed_metadata,
    PRENIGHT_INDEX: _prenight_index,
    PRENIGHT_METADATA: _prenight_metadata,
    PRENIGHT_SIMS: _prenight_sims,
    PRENIGHT_BRIEFING: _prenight_briefing,
}
"""Asset name -> what reads a partition of it back from the archive:

- ``consdb_visits``, ``completed_visits``: the night's visits, from the newest completed
  sequence covering the night (a DataFrame);
- ``completed_metadata``: that sequence's ``completed`` row (a dict);
- ``prenight_index``: the night's pre-night index (a DataFrame, as ``ArchiveReader.prenight_index``);
- ``prenight_metadata``: the index rows of the partition's simulations (:func:`partition_simulations`);
- ``prenight_sims``: the night's visits in the newest ideal/nominal one of them;
- ``prenight_briefing``: figure file type -> URL of its briefing images.
"""


def load_partition(
    asset: str | Any,
    partition_key: str | int | dt.date,
    *,
    reader: ArchiveReader | None = None,
) -> Any:
    """The value of an archived partition of a vseq Dagster asset, read from the archive.

    ``asset`` is a key as ``"simonyi/prenight_index"``, ``["simonyi", "prenight_index"]`` or a
    Dagster ``AssetKey``; ``partition_key`` a dayobs. The values are those of
    :data:`PARTITION_LOADERS`. Works outside Dagster (no instance needed). ``reader`` defaults
    to :meth:`ArchiveReader.from_env` (closed afterwards).
    """
    try:
        telescope, name = split_asset_key(asset)
    except ValueError as err:
        raise InvalidInputError(str(err)) from None
    night = parse_dayobs(partition_key)
    own = reader is None
    reader = reader or ArchiveReader.from_env()
    try:
        return PARTITION_LOADERS[name](reader, telescope, night)
    finally:
        if own:
            reader.close()
