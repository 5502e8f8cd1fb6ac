"""Concurrent writers (8 processes for 10 s in CI; the soak command runs longer)."""

from __future__ import annotations

from pathlib import Path

from vseq_resources.archive import VisitSequenceArchive
from vseq_tests.reliability.soak import check_load, run_load


def test_eight_concurrent_writers(
    file_archive: VisitSequenceArchive, pg_url: str, file_base: str, tmp_path: Path
) -> None:
    """On a file store; the S3 variant runs in the soak command (``--s3``)."""
    archive = file_archive
    ledgers = run_load(pg_url, archive.metadata.schema, file_base, tmp_path, workers=8, seconds=10)
    summary = check_load(archive, ledgers)
    print(summary)
    assert summary["sequences_recorded"] >= 8
    assert summary["tag_operations"] > 0 and summary["comment_rows"] > summary["sequences_recorded"]
