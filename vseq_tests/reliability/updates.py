"""The committed sequence and the new content of the update tests (``test_update.py``, and the
update kill points of ``test_kill.py``): the visits (``visitseq_url``) or a side file."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.visits.h5 import write_visits_h5
from vseq_tests.reliability.support import small_visits

OLD_VISITS, NEW_VISITS = 20, 30
OLD_NOTES, NEW_NOTES = b"the committed notes\n", b"the notes of a failed update\n"


def committed(archive: VisitSequenceArchive) -> uuid.UUID:
    seq = archive.record_sequence(
        "simulations",
        small_visits("2026-04-10", OLD_VISITS),
        label="committed before the update",
        telescope="simonyi",
        files={"notes.txt": ("notes", OLD_NOTES)},
    )
    return seq.uuid


def new_content(kind: str, tmp_path: Path) -> Path:
    if kind == "visits":
        path = tmp_path / "new" / "visits.h5"
        path.parent.mkdir(exist_ok=True)
        write_visits_h5(path, small_visits("2026-04-10", NEW_VISITS, seed=5))
    else:
        path = tmp_path / "new" / "notes.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(NEW_NOTES)
    return path


def content(archive: VisitSequenceArchive, seq: uuid.UUID, kind: str, tmp_path: Path) -> object:
    """What a reader gets: the number of visits, or the side file's bytes (both verified)."""
    if kind == "visits":
        return len(archive.get_visits(seq))
    out = archive.get_file(seq, "notes", tmp_path / f"read-{uuid.uuid4().hex}.txt")
    return out.read_bytes()


def update(archive: VisitSequenceArchive, seq: uuid.UUID, kind: str, source: Path) -> str:
    return archive.archive_file(seq, source, kind, update=True)


def assert_intact(archive: VisitSequenceArchive, seq: uuid.UUID, kind: str, tmp_path: Path) -> None:
    report = archive.verify(grace=dt.timedelta(0))
    assert not report.missing and not report.corrupt and not report.unreadable, report.lines()
    assert not report.unfinished, report.lines()
    assert content(archive, seq, kind, tmp_path) == (OLD_VISITS if kind == "visits" else OLD_NOTES)
