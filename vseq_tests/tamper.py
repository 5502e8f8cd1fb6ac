"""Tampering with a stored ``visits.h5`` the way an attacker with write access to the store could.

PyTables unpickles every attribute of a node it opens, so a pickled object planted in an
attribute runs code when the file is parsed. The payload here is harmless: it creates a marker
directory, so a test can tell whether a reader parsed the tampered bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lsst.resources import ResourcePath


class _Payload:
    """Unpickling it calls ``os.mkdir(marker)``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.marker,))


def plant_payload(url: str, marker: Path) -> None:
    """Rewrite the stored file at ``url`` (``file://`` or ``s3://``) with a pickled payload in an
    attribute of its ``observations`` group; parsing it afterwards creates ``marker``."""
    import tables

    stored = ResourcePath(url)
    with tempfile.TemporaryDirectory(prefix="vseq-tamper-") as tmp:
        local = Path(tmp) / "visits.h5"
        local.write_bytes(stored.read())
        with tables.open_file(local, "a") as h5:
            h5.root.observations._v_attrs.vseq_note = _Payload(marker)
        stored.write(local.read_bytes(), overwrite=True)


def payload_runs(url: str, marker: Path) -> bool:
    """Whether parsing the file at ``url`` runs the planted payload (proves the tamper is live)."""
    from vseq_resources.visits import read_visits_h5

    read_visits_h5(url)
    ran = marker.exists()
    if ran:
        marker.rmdir()
    return ran
