"""SIGKILL of the writing process at each step of recording a sequence (API and CLI verify).

The writer is a real subprocess (``writer.py record``) paused at a named fault point
(``vseq_resources.faults``) and killed there with SIGKILL: no exception handler, no rollback, no
``finally`` runs. Afterwards no row may point at a missing or wrong file, ``verify`` must list
exactly the files the dead writer left, ``vseqarchive verify --repair`` must remove those and
nothing else, and the archive must keep working.

An update of a stored file (``writer.py update``) is killed inside its transaction (the committed
file must stay intact, the staged new content is an orphan) and after its commit, before the new
content is moved into place (``verify`` reports UNFINISHED, ``--repair`` finishes it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.store import STAGING_MARK
from vseq_tests.reliability import updates
from vseq_tests.reliability.support import (
    referenced_urls,
    row_counts,
    small_visits,
    start_paused,
    store_listing,
    writer_command,
)

BIG_VISITS = 45_000
"""About 10 MiB of visits.h5: more than one 8 MiB transfer chunk, so an upload can be cut."""

# Files the dead writer leaves behind, by kill point and store kind: a partial temporary file of
# a local upload; nothing for an S3 multipart upload that never completed (S3 shows no object);
# visits.h5; then visits.h5 and both side files.
LEFT_BEHIND = {
    ("during_upload", "file"): 1,
    ("during_upload", "s3"): 0,
    ("after_visits_upload", "file"): 1,
    ("after_visits_upload", "s3"): 1,
    ("before_transaction", "file"): 3,
    ("before_transaction", "s3"): 3,
    ("in_transaction", "file"): 3,
    ("in_transaction", "s3"): 3,
}


def cli_verify(archive: VisitSequenceArchive, db_url: str, *args: str):  # type: ignore[no-untyped-def]
    env = {
        "VSEQ_DATABASE_URL": db_url,
        "VSARCHIVE_PGSCHEMA": archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": str(archive.store.base),
    }
    return CliRunner().invoke(cli, ["verify", "--grace-hours", "0", *args], env=env, catch_exceptions=False)


@pytest.mark.parametrize(
    "point", ["during_upload", "after_visits_upload", "before_transaction", "in_transaction"]
)
def test_sigkill_at_each_step(
    point: str, archive: VisitSequenceArchive, pg_url: str, store_base: str, tmp_path: Path
) -> None:
    kind = "s3" if store_base.startswith("s3:") else "file"
    baseline = archive.record_sequence(
        "simulations",
        small_visits("2026-04-10"),
        label="committed before the kill",
        telescope="simonyi",
        files={"notes.txt": b"keep me"},
        tags=["keep"],
    )
    kept_files = store_listing(archive)
    counts_before = row_counts(archive)

    paused = start_paused(
        writer_command(
            "record",
            pg_url,
            archive.metadata.schema,
            store_base,
            "--visits",
            str(BIG_VISITS if point == "during_upload" else 200),
        ),
        point,
        tmp_path / "marker",
    )
    assert paused.pid == paused.process.pid
    assert paused.kill() == -9

    # The database holds exactly what it held before: the killed transaction left no row.
    assert row_counts(archive) == counts_before
    # No row points at a missing or wrong file.
    report = archive.verify(grace=dt.timedelta(0))
    assert not report.missing and not report.corrupt and not report.unreadable, report.lines()
    # verify lists exactly the files that no row refers to, and they are the dead writer's.
    listing = store_listing(archive)
    leftovers = sorted(set(listing) - set(kept_files))
    assert len(leftovers) == LEFT_BEHIND[(point, kind)], leftovers
    assert sorted(report.orphans) == leftovers
    assert not set(leftovers) & referenced_urls(archive)
    if kind == "s3" and point == "during_upload":
        # The cut multipart upload is invisible to listings; a lifecycle rule aborts it.
        bucket = archive.store.base.netloc
        uploads = archive.store.base.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert any(u["Key"].endswith("/visits.h5") for u in uploads)

    # The command line reports the same, and --repair removes those files and nothing else.
    found = cli_verify(archive, pg_url)
    assert found.exit_code == (1 if leftovers else 0), found.output
    assert sum(line.startswith("ORPHAN") for line in found.stdout.splitlines()) == len(leftovers)
    repaired = cli_verify(archive, pg_url, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert store_listing(archive) == kept_files
    clean = archive.verify(grace=dt.timedelta(0))
    assert clean.ok and clean.checked == 2, clean.lines()
    assert len(archive.get_visits(baseline.uuid)) == 20

    # Nothing is locked or half-open: the archive records again at once.
    again = archive.record_sequence(
        "simulations", small_visits("2026-04-10", seed=2), label="after", telescope="simonyi"
    )
    assert archive.metadata.get_tags(baseline.uuid) == ["keep"]
    assert row_counts(archive)["visitseq"] == counts_before["visitseq"] + 1
    assert again.uuid != baseline.uuid


# -- updates of a stored file (issue 19, points 1 and 2) -------------------------------------------


def _killed_update(
    archive: VisitSequenceArchive,
    pg_url: str,
    store_base: str,
    seq: uuid.UUID,
    kind: str,
    point: str,
    tmp_path: Path,
) -> None:
    paused = start_paused(
        writer_command(
            "update",
            pg_url,
            archive.metadata.schema,
            store_base,
            "--uuid",
            str(seq),
            "--file-type",
            kind,
            "--source",
            str(updates.new_content(kind, tmp_path)),
        ),
        point,
        tmp_path / "marker",
    )
    assert paused.kill() == -9


def test_sigkill_before_the_commit_keeps_the_committed_file(
    archive: VisitSequenceArchive, pg_url: str, store_base: str, kind: str, tmp_path: Path
) -> None:
    seq = updates.committed(archive)
    files = store_listing(archive)
    _killed_update(archive, pg_url, store_base, seq, kind, "in_transaction", tmp_path)
    updates.assert_intact(archive, seq, kind, tmp_path)
    # The dead writer left only its staging object, an orphan that --repair removes.
    leftovers = sorted(set(store_listing(archive)) - set(files))
    assert len(leftovers) == 1 and STAGING_MARK in leftovers[0], leftovers
    found = cli_verify(archive, pg_url)
    assert found.exit_code == 1 and "ORPHAN" in found.stdout and "CORRUPT" not in found.stdout, found.output
    assert cli_verify(archive, pg_url, "--repair").exit_code == 0
    assert store_listing(archive) == files
    updates.assert_intact(archive, seq, kind, tmp_path)


def test_sigkill_after_the_commit_is_finished_by_repair(
    archive: VisitSequenceArchive, pg_url: str, store_base: str, kind: str, tmp_path: Path
) -> None:
    seq = updates.committed(archive)
    files = store_listing(archive)
    _killed_update(archive, pg_url, store_base, seq, kind, "after_update_commit", tmp_path)
    # The rows are committed; the new content waits beside the old file: reported, not corrupt.
    report = archive.verify(grace=dt.timedelta(0))
    assert len(report.unfinished) == 1 and not report.corrupt and not report.orphans, report.lines()
    found = cli_verify(archive, pg_url)
    assert found.exit_code == 1 and "UNFINISHED" in found.stdout, found.output
    repaired = cli_verify(archive, pg_url, "--repair")
    assert repaired.exit_code == 0 and "FINISHED" in repaired.stdout, repaired.output
    assert archive.verify(grace=dt.timedelta(0)).ok
    assert store_listing(archive) == files
    new = updates.content(archive, seq, kind, tmp_path)
    assert new == (updates.NEW_VISITS if kind == "visits" else updates.NEW_NOTES)
