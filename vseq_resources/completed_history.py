"""The completed visits a pre-night simulation pre-loads: every archived night before it.

For a night D, the visits of each night of the look-back window (every archived night, or the
last ``lookback_nights``) come from the newest ``completed`` sequence with stored visits that
covers that night (the metadata layer's one answer,
:meth:`~vseq_resources.metadata.completed.CompletedSequences.newest_completed_by_night`),
concatenated in time order (a night whose sequence has no visit is counted in ``empty_nights``;
a sequence that failed an integrity check is never chosen), each read through the one verified read path
(:func:`~vseq_resources.stored_visits.read_stored_visits`: the file's recorded SHA-256 is checked
before it is parsed). The newest of them is the simulations' parent.

Why a cache. Completed sequences are recorded one per night, so a year of history is 365
verified reads: each checks the file's SHA-256 and opens a small fixed-format HDF5 file,
0.1-0.25 s apiece on the 2-core machines (mostly PyTables opening nodes), 40-90 s every
afternoon for visits that cannot have changed: a sequence's visits are immutable, and a newer
sequence for a night has a new UUID. So what was read is kept, per read unit (one sequence, its
visits file as recorded: URL and SHA-256, and the nights taken from it), as a Parquet file in a
local directory (``<state dir>/completed_cache`` in the pipeline). The next day reads one new
night from the archive and the rest from the cache, about 7 ms per night. A night re-archived
since (new UUID), visits replaced under the same UUID (``archive-file --update``: a new
checksum), or a window that takes other nights of a multi-night sequence, is a different unit and
is read from the archive again. A missing or unreadable cache file, or one that is not its unit's
(it records its unit and row count; Parquet page checksums are written and verified), is read
from the archive again and rewritten; files are written under a temporary name and renamed, so
runs sharing the directory (a backfill) never see half a file. Parquet, not pickle: reading a
cache file must not be able to run code. The cache only ever holds visits that passed the
archive's checksum when read; delete the directory to drop it (files of sequences no longer
chosen are not pruned: about 100 kB per night).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .atomic import atomic_output
from .stored_visits import read_stored_visits
from .visits.nights import dayobs_ordinals

if TYPE_CHECKING:
    from .archive import VisitSequenceArchive

log = logging.getLogger(__name__)


@dataclass
class PreloadedVisits:
    """The completed visits pre-loaded into the scheduler and where they came from."""

    visits: pd.DataFrame | None
    sequences: dict[dt.date, uuidlib.UUID] = field(default_factory=dict)
    units_cached: int = 0
    """Read units (sequence, nights) found in the cache."""
    units_read: int = 0
    """Read units read from the archive."""
    empty_nights: list[dt.date] = field(default_factory=list)
    """Nights pre-loaded whose archived sequence has no visit (weather, shutdown)."""

    @property
    def parent_uuid(self) -> uuidlib.UUID | None:
        return self.sequences[max(self.sequences)] if self.sequences else None

    @property
    def last_day_obs(self) -> dt.date | None:
        return max(self.sequences) if self.sequences else None

    @property
    def first_day_obs(self) -> dt.date | None:
        return min(self.sequences) if self.sequences else None

    @property
    def count(self) -> int:
        return 0 if self.visits is None else len(self.visits)

    @property
    def last_mjd(self) -> float | None:
        if not self.count:
            return None
        return float(self.visits["observationStartMJD"].max())

    def describe(self, lookback_nights: int | None) -> dict[str, Any]:
        """JSON-safe summary, recorded in each simulation's ``sim_runner_kwargs``."""
        distinct = list(dict.fromkeys(str(u) for u in self.sequences.values()))
        return {
            "visits": self.count,
            "first_day_obs": self.first_day_obs.isoformat() if self.first_day_obs else None,
            "last_day_obs": self.last_day_obs.isoformat() if self.last_day_obs else None,
            "nights": len(self.sequences),
            "empty_nights": [night.isoformat() for night in self.empty_nights],
            "last_mjd": self.last_mjd,
            "lookback_nights": lookback_nights,
            "completed_sequences": distinct,
        }


def gather_completed_visits(
    archive: VisitSequenceArchive,
    telescope: str,
    day_obs: dt.date,
    lookback_nights: int | None = None,
    *,
    cache_dir: Path | None = None,
) -> PreloadedVisits:
    """The completed visits of the nights before ``day_obs`` (newest sequence per night).

    With ``cache_dir``, units already read are taken from there and new ones kept there.
    """
    through = day_obs - dt.timedelta(days=1)
    since = day_obs - dt.timedelta(days=lookback_nights) if lookback_nights else None
    chosen = archive.latest_completed_by_night(telescope=telescope, through=through, since=since)
    if not chosen:
        return PreloadedVisits(None, {})
    nights_of: dict[uuidlib.UUID, list[dt.date]] = {}
    rows: dict[uuidlib.UUID, dict[str, Any]] = {}
    for night, row in chosen.items():
        nights_of.setdefault(row["visitseq_uuid"], []).append(night)
        rows[row["visitseq_uuid"]] = row
    frames = []
    cached = read = 0
    observed: set[int] = set()
    for seq_uuid, nights in nights_of.items():
        row = rows[seq_uuid]
        covers_all = len(nights) == (row["last_day_obs"] - row["first_day_obs"]).days + 1
        path = key = None
        if cache_dir is not None:
            url = row["visitseq_url"]
            sha256 = row["visits_sha256"]
            key = _unit_key(seq_uuid, url, sha256.hex() if sha256 else None, nights)
            path = _unit_path(cache_dir, seq_uuid, key)
        frame = _read_unit(path, key) if path is not None and key is not None else None
        if frame is None:
            frame = read_stored_visits(
                row["visitseq_url"],
                row["visits_sha256"],
                sequence=seq_uuid,
                nights=None if covers_all else nights,
            )
            read += 1
            if path is not None and key is not None:
                _write_unit(path, key, frame)
        else:
            cached += 1
        if len(frame):
            frames.append(frame)
            observed.update(np.unique(dayobs_ordinals(frame["observationStartMJD"])).tolist())
    visits = None
    if frames:
        visits = pd.concat(frames, ignore_index=True, sort=False)
        visits = visits.sort_values("observationStartMJD", kind="stable", ignore_index=True)
    sequences = {night: row["visitseq_uuid"] for night, row in chosen.items()}
    empty = [night for night in sequences if night.toordinal() not in observed]
    return PreloadedVisits(visits, sequences, units_cached=cached, units_read=read, empty_nights=empty)


def _unit_key(seq_uuid: uuidlib.UUID, url: str, sha256: str | None, nights: list[dt.date]) -> str:
    """What a unit's visits depend on: the sequence, its visits file as recorded, the nights."""
    days = ",".join(sorted(night.isoformat() for night in nights))
    return f"{seq_uuid}\n{url}\n{sha256 or ''}\n{days}"


def _unit_path(cache_dir: Path, seq_uuid: uuidlib.UUID, key: str) -> Path:
    return Path(cache_dir) / f"{seq_uuid}-{hashlib.sha256(key.encode()).hexdigest()[:32]}.parquet"


_UNIT_ATTR, _ROWS_ATTR = "vseq_completed_unit", "vseq_completed_rows"


def _read_unit(path: Path, key: str) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        frame = pd.read_parquet(path, page_checksum_verification=True)
    except Exception as err:  # noqa: BLE001 - any unreadable cache file is read again from the archive
        log.warning("ignoring the unreadable cache file %s (%s); reading the archive instead", path, err)
        return None
    unit, rows = frame.attrs.pop(_UNIT_ATTR, None), frame.attrs.pop(_ROWS_ATTR, None)
    if unit != key or rows != len(frame):
        log.warning("ignoring the cache file %s (not its unit's visits); reading the archive instead", path)
        return None
    return frame


def _write_unit(path: Path, key: str, frame: pd.DataFrame) -> None:
    """Keep a unit for the next day; a cache that cannot be written only costs time."""
    try:
        with atomic_output(path, ".parquet") as temporary:
            stored = frame.copy(deep=False)  # the unit and row count travel in the file (attrs)
            stored.attrs = {**frame.attrs, _UNIT_ATTR: key, _ROWS_ATTR: len(frame)}
            stored.to_parquet(temporary, write_page_checksum=True)
    except Exception as err:  # noqa: BLE001 - (disk full, a value Parquet cannot hold): read again next time
        log.warning("could not keep %s in the completed-visits cache: %s", path.name, err)
