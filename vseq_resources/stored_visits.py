"""The one read path of stored visits files: checked against the recorded SHA-256, then parsed.

Every reader of a ``visits.h5`` in the store goes through :func:`read_stored_visits`: the
archive's ``get_visits``, the CLI, the reader API and ``load_partition``, the asset checks, the
completed-visits cache and the Dagster IO manager. PyTables unpickles pandas' stored attributes
(fixed and table format alike), so parsing a file changed in the store could run code: the
recorded SHA-256 is the only guard, and it is checked on a private copy before a single byte is
parsed (:func:`~vseq_resources.store.verified_local_copy`).

A file with no recorded checksum (visits files the production archive wrote; it records none)
is read with an :class:`~vseq_resources.store.UnverifiedFileWarning`, which a caller turns into
an error with ``require_checksum=True`` or a warnings filter; ``vseqarchive verify --repair``
records the checksum of such a file.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .store import verified_local_copy

if TYPE_CHECKING:
    import pandas as pd


def read_stored_visits(
    url: str,
    sha256: bytes | None,
    *,
    sequence: uuidlib.UUID | str,
    nights: Iterable[str | int | dt.date] | None = None,
    require_checksum: bool = False,
    why_unverified: str | None = None,
) -> pd.DataFrame:
    """The visits of ``sequence`` stored at ``url``, optionally only those of some nights (dayobs).

    ``sha256`` is the file's recorded SHA-256 (``file_checksums``), None when none is recorded.
    Raises `IntegrityError` naming the sequence, before parsing anything, when the stored bytes
    do not match; see the module docstring for files without a checksum (``why_unverified``: why
    none is known, when it is not simply unrecorded).
    """
    from .visits import read_visits_h5

    what = f"the visits of sequence {sequence}"
    with verified_local_copy(
        url, sha256, what=what, require_checksum=require_checksum, why_unverified=why_unverified
    ) as local:
        return read_visits_h5(local, nights=None if nights is None else list(nights))
