"""Temporary files of killed writers (issue 19, point 10: "70 MB seen").

A writer killed while it stores a sequence leaves its local temporary directory (the
``visits.h5`` it wrote before storing it) in ``TMPDIR``, and, cut in the middle of a local
upload, a ``.vseq-partial-*`` file in the store. ``verify`` lists both (``TEMP`` and ``ORPHAN``)
and ``verify --repair`` removes both; the directory of a writer that still runs is never listed.
Each writer is a real process, killed with ``SIGKILL`` while the temporary exists.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.atomic import TEMP_PREFIX
from vseq_resources.tempfiles import PREFIX
from vseq_tests.reliability.support import (
    VSEQARCHIVE,
    referenced_urls,
    start_paused,
    store_listing,
    subprocess_env,
    writer_command,
)


def _dirs_of(root: Path, pid: int) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and f".{pid}." in p.name)


def test_killed_writer_temporaries_are_reported_and_removed(
    file_archive: VisitSequenceArchive, pg_url: str, file_base: str, tmp_path: Path
) -> None:
    schema = file_archive.metadata.schema
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    live = start_paused(
        writer_command("record", pg_url, schema, file_base, "--visits", "200"),
        "before_upload",
        tmp_path / "live",
        env=env,
    )
    dead = start_paused(
        writer_command("record", pg_url, schema, file_base, "--visits", "45000"),
        "during_upload",
        tmp_path / "dead",
        env=env,
    )
    # The temporaries exist while the writer runs: its visits.h5 in TMPDIR (about 10 MiB) and
    # the partial upload in the store.
    (dead_dir,) = _dirs_of(tmpdir, dead.pid)
    size = (dead_dir / "visits.h5").stat().st_size
    assert size > 5 * 2**20 and ".visits." in dead_dir.name
    partial = [u for u in store_listing(file_archive) if u.rsplit("/", 1)[-1].startswith(TEMP_PREFIX)]
    assert len(partial) == 1
    assert dead.kill() == -9
    # Killed: nothing removed them.
    assert (dead_dir / "visits.h5").stat().st_size == size
    (live_dir,) = _dirs_of(tmpdir, live.pid)

    report = file_archive.verify(grace=dt.timedelta(0), temporary_root=tmpdir)
    assert [(t.path, t.pid, t.purpose) for t in report.temporaries] == [(dead_dir, dead.pid, "visits")]
    assert report.temporaries[0].size >= size
    assert report.orphans == partial  # the store's partial file: an orphan, as before
    assert live_dir.exists()  # a running writer's directory is never listed

    # The live writer goes on, commits, and removes its own directory.
    live.marker.unlink()
    assert live.process.wait(timeout=120) == 0
    assert not live_dir.exists()

    cli_env = subprocess_env(
        {
            "VSEQ_DATABASE_URL": pg_url,
            "VSARCHIVE_PGSCHEMA": schema,
            "VSEQ_ARCHIVE_URI": file_base,
            "TMPDIR": str(tmpdir),
        }
    )

    def verify(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [VSEQARCHIVE, "verify", "--grace-hours", "0", *args],
            env=cli_env,
            capture_output=True,
            text=True,
            check=False,
        )

    found = verify()
    assert found.returncode == 1, found.stdout + found.stderr  # (the orphan)
    temp_lines = [line for line in found.stdout.splitlines() if line.startswith("TEMP")]
    assert temp_lines == [
        f"TEMP     {dead_dir}: {report.temporaries[0].size / 2**20:.1f} MiB left by vseq process "
        f"{dead.pid} (visits), which no longer runs; verify --repair removes it"
    ], found.stdout
    assert f"ORPHAN   {partial[0]}" in found.stdout

    repaired = verify("--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"TEMP     {dead_dir}" in repaired.stdout and "(removed)" in repaired.stdout
    assert not dead_dir.exists() and not list(tmpdir.iterdir())
    assert set(store_listing(file_archive)) == referenced_urls(file_archive)  # only committed files
    again = verify()
    assert again.returncode == 0 and "TEMP" not in again.stdout, again.stdout
    assert os.path.isdir(tmpdir)
