"""``verify --repair`` never deletes what a running writer will commit (issue 19, point 5).

A real writer (``writer.py record``) is paused at ``before_transaction``: its three files are in
the store and no row refers to them yet. ``vseqarchive verify --repair --grace-hours 0`` runs
meanwhile: the writer's write lease (a shared advisory lock) makes repair keep every orphan
younger than ``MIN_REPAIR_GRACE`` and say so. The writer then commits, and every file its rows
point at is there and intact. Once no writer runs, ``--grace-hours 0`` removes a dead writer's
files at once (``test_kill.py``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_tests.reliability.support import start_paused, store_listing, writer_command


def test_repair_keeps_a_running_writers_files(
    file_archive: VisitSequenceArchive, pg_url: str, file_base: str, tmp_path: Path
) -> None:
    before = store_listing(file_archive)
    paused = start_paused(
        writer_command("record", pg_url, file_archive.metadata.schema, file_base),
        "before_transaction",
        tmp_path / "marker",
    )
    in_flight = sorted(set(store_listing(file_archive)) - set(before))
    assert len(in_flight) == 3, in_flight  # the fault: files stored, no row yet
    env = {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": file_archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": file_base,
    }
    repaired = CliRunner().invoke(cli, ["verify", "--repair", "--grace-hours", "0"], env=env)
    assert "WRITING" in repaired.output and "removed" not in repaired.output, repaired.output
    assert set(in_flight) <= set(store_listing(file_archive))
    paused.marker.unlink()
    assert paused.process.wait(timeout=300) == 0
    report = file_archive.verify(grace=dt.timedelta(0))
    assert report.ok and report.checked == 3 and not report.missing, report.lines()
