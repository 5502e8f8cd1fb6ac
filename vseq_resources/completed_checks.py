"""What the completed-night checks verify about an archived night, as lists of problems.

The archiving step runs them itself, right after recording (or reusing) the night's sequence, so
a failure stops what follows in the same run (the Dagster checks are blocking), and marks the
sequence in the archive (:meth:`~vseq_resources.metadata.annotations.Annotations.mark_check_failed`)
so that it is never chosen again: not pre-loaded, not read as the night's visits, not reused by a
re-run (which then records the night afresh).

- :func:`visits_file_problems`: the stored ``visits.h5`` reads back, through the one verified read
  path (its recorded SHA-256 checked before it is parsed), with the recorded row count and content
  hash;
- :func:`metadata_row_problems`: the ``completed`` row exists, covers the night, has its query
  text and points at the stored file.

Each returns an empty list when everything holds.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from .completed_night import COMPLETED_TABLE
from .faults import fault_point

if TYPE_CHECKING:
    from .archive import VisitSequenceArchive


def visits_file_problems(
    archive: VisitSequenceArchive, seq_uuid: uuidlib.UUID, expected_rows: int | None = None
) -> tuple[list[str], dict[str, Any]]:
    """Problems reading the sequence's ``visits.h5`` back, and what was read (plain values)."""
    from .stored_visits import read_stored_visits
    from .visits import visits_content_hash

    fault_point("before_read_back")
    url, expected_sha = archive.metadata.get_visits_file(seq_uuid)
    if not url:
        return [f"sequence {seq_uuid} has no stored visits"], {}
    details: dict[str, Any] = {
        "url": url,
        "file_sha256": expected_sha.hex() if expected_sha else None,
    }
    try:
        # A file without a recorded checksum (an adopted reference archive) is read with a warning.
        visits = read_stored_visits(url, expected_sha, sequence=seq_uuid)
    except Exception as err:  # noqa: BLE001 - any failure to read back is what this check reports
        return [f"{url} cannot be read back: {' '.join(str(err).split())}"], details
    problems = []
    details["rows_read"] = len(visits)
    if expected_rows is not None and len(visits) != int(expected_rows):
        problems.append(f"{len(visits)} rows read back, {expected_rows} recorded")
    meta = archive.get_metadata(seq_uuid)
    if visits_content_hash(visits) != bytes(meta["visitseq_sha256"]):
        problems.append("content hash of the visits read back differs from visitseq_sha256")
    return problems, details


def metadata_row_problems(
    archive: VisitSequenceArchive,
    seq_uuid: uuidlib.UUID,
    telescope: str,
    night: dt.date,
    expected_url: str | None = None,
) -> list[str]:
    """Problems with the sequence's ``completed`` row (``expected_url``: the file just archived)."""
    from .errors import NotFoundError

    try:
        row = archive.get_metadata(seq_uuid, table=COMPLETED_TABLE)
    except NotFoundError:
        return [f"no completed row for {seq_uuid}"]
    problems = []
    if row.get("telescope") != telescope:
        problems.append(f"telescope is {row.get('telescope')!r}")
    first, last = row.get("first_day_obs"), row.get("last_day_obs")
    if first is None or last is None or not first <= night <= last:
        problems.append(f"first_day_obs..last_day_obs is {first}..{last}: it does not cover {night}")
    if not row.get("query"):
        problems.append("no query text")
    url = row.get("visitseq_url")
    if not url:
        problems.append("visitseq_url is empty")
    else:
        if expected_url and expected_url != url:
            problems.append(f"visitseq_url {url} is not the archived {expected_url}")
        if not archive.store.exists(url):
            problems.append(f"nothing is stored at {url}")
    return problems
