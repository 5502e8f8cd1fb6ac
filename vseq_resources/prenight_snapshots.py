"""Which index snapshots a pre-night day writes, writing them, and comparing them with the database.

Day D writes the snapshot of night D and of every later night covered by a pre-night simulation
that covers D: a simulation made for D usually covers D..D+2, so after the afternoon's simulations
the snapshots of D, D+1 and D+2 all list them. Nights before D are not touched: nothing made for D
covers them. Snapshots are rewritten whole (:func:`vseq_resources.prenight_index.write_prenight_index`),
so writing a day again after new simulations (or new tags, comments, files) brings every covered
night up to date.

:func:`compare_snapshot` reads a snapshot back and lists how it differs from the database, simulation
by simulation and column by column; numbers need only agree to the 10 decimals snapshots keep.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from .metadata.schema import SIMULATIONS_EXTRA_COLUMNS
from .prenight_index import (
    MAX_SIMULATION_AGE_DAYS,
    PRENIGHT_TAGS,
    default_index_uri,
    prenight_index_path,
    read_prenight_index,
    write_prenight_index,
)

if TYPE_CHECKING:
    from .archive import VisitSequenceArchive

COMPARED_COLUMNS = (*(c for c in SIMULATIONS_EXTRA_COLUMNS if c != "visitseq_uuid"), "stats")
"""Every column of a snapshot row (the UUID is the row's index)."""


def nights_to_snapshot(archive: VisitSequenceArchive, telescope: str, day_obs: dt.date) -> list[dt.date]:
    """Night ``day_obs`` and every later night covered by a pre-night simulation that covers it."""
    sims = archive.metadata.prenight_simulations(
        day_obs, telescope, tags=PRENIGHT_TAGS, max_simulation_age=MAX_SIMULATION_AGE_DAYS
    )
    last = max([day_obs, *(d for d in sims["last_day_obs"] if d is not None)])
    return [day_obs + dt.timedelta(days=i) for i in range((last - day_obs).days + 1)]


def write_snapshots(archive: VisitSequenceArchive, telescope: str, day_obs: dt.date) -> dict[dt.date, str]:
    """Write the snapshots day ``day_obs`` is responsible for; night -> URL, in night order."""
    return {
        night: write_prenight_index(archive, night, telescope)
        for night in nights_to_snapshot(archive, telescope, day_obs)
    }


def compare_snapshot(archive: VisitSequenceArchive, telescope: str, night: dt.date) -> list[str]:
    """Differences between the snapshot of ``night`` and the database (empty: they agree).

    A missing snapshot agrees with a night that has no simulations.
    """
    from lsst.resources import ResourcePath

    from .readers import normalize_prenight_index

    index_uri = default_index_uri(archive)
    path = prenight_index_path(index_uri, night, telescope)
    database = normalize_prenight_index(
        archive.metadata.prenight_simulations(
            night, telescope, tags=PRENIGHT_TAGS, max_simulation_age=MAX_SIMULATION_AGE_DAYS, with_stats=True
        )
    )
    if not ResourcePath(path).exists():
        return [f"{night}: no snapshot at {path}"] if len(database) else []
    snapshot = normalize_prenight_index(read_prenight_index(index_uri, night, telescope))
    if len(database):
        # The snapshot format (pandas ISO dates, as the reference writes them) keeps milliseconds.
        database["creation_time"] = database["creation_time"].dt.floor("ms")
    problems = []
    for uuid in database.index.difference(snapshot.index):
        problems.append(f"{night}: simulation {uuid} is in the database but not in the snapshot")
    for uuid in snapshot.index.difference(database.index):
        problems.append(f"{night}: simulation {uuid} is in the snapshot but not in the database")
    for uuid in database.index.intersection(snapshot.index):
        for column in COMPARED_COLUMNS:
            db_value = _comparable(database.at[uuid, column])
            snap_value = _comparable(snapshot.at[uuid, column])
            if not _same(db_value, snap_value):
                problems.append(
                    f"{night}: {uuid} {column}: snapshot {_short(snap_value)}, database {_short(db_value)}"
                )
    return problems


def compare_snapshots(
    archive: VisitSequenceArchive, telescope: str, day_obs: dt.date
) -> tuple[list[dt.date], list[str]]:
    """Every snapshot day ``day_obs`` writes against the database: (nights compared, differences)."""
    nights = nights_to_snapshot(archive, telescope, day_obs)
    return nights, [p for n in nights for p in compare_snapshot(archive, telescope, n)]


def _comparable(value: Any) -> Any:
    """One cell as plain JSON-like values, so that database and snapshot values compare."""
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _same(a: Any, b: Any) -> bool:
    """Equal, except that numbers need only agree to the 10 decimals snapshots keep (pandas'
    ``to_json`` default, which the reference format uses)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool | type(None)):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
