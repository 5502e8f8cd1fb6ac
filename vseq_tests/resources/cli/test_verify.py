"""``verify``: checksums, rows whose files are missing, files no row refers to."""

from __future__ import annotations

import uuid
from pathlib import Path

from vseq_resources.store import ArchiveStore

from .conftest import Vseq


def stored(vseq: Vseq) -> set[str]:
    # (SeaweedFS lists a directory marker after its last object is removed: not a file)
    return {e.url for e in ArchiveStore(vseq.store).walk_files() if not e.url.endswith("/")}


def test_verify(cli_env: Vseq, opsim_db: Path, rewards_h5: Path) -> None:
    vseq = cli_env
    store = ArchiveStore(vseq.store)
    sim = vseq.out("record-visitseq-metadata", "simulations", str(opsim_db), "verified")
    visits_url = vseq.out("archive-file", sim, str(opsim_db), "visits")
    rewards_url = vseq.out("archive-file", sim, str(rewards_h5), "rewards")
    vseq.out(
        "set-visitseq-url",
        vseq.out("record-visitseq-metadata", "completed", str(opsim_db), "elsewhere"),
        "https://example.org/visits.h5",
    )

    clean = vseq("verify")
    assert "0 missing, 0 corrupt" in clean.stdout
    assert "OUTSIDE" in clean.stdout  # a URL outside the store is listed, not checked

    # A file left by an interrupted write: no row refers to it.
    orphan = store.put_file("simonyi", "2026-04-11", uuid.uuid4(), b"left behind", "rewards.h5").url
    recent = vseq("verify")
    assert recent.exit_code == 0 and f"RECENT   {orphan}" in recent.stdout  # may be a write in progress
    old = vseq("verify", "--grace-hours", "0", ok=False)
    assert old.exit_code == 1 and f"ORPHAN   {orphan}" in old.stdout
    assert orphan in stored(vseq)

    # A referenced file that changed, and one that disappeared.
    store.put_file(
        "simonyi", visits_url.split("/")[-3], sim, b"not the rewards", "rewards.h5", overwrite=True
    )
    store.delete(visits_url)
    broken = vseq("verify", "--grace-hours", "0", "--repair", ok=False)
    assert broken.exit_code == 1
    assert f"CORRUPT  {rewards_url}" in broken.stdout
    assert f"MISSING  {visits_url}" in broken.stdout
    assert f"ORPHAN   {orphan}: removed" in broken.stdout
    # Repair removed the orphan only: the corrupt referenced file is left for a person to judge.
    assert stored(vseq) == {rewards_url}
    quiet = vseq("verify", "-q", ok=False)
    assert "files checked" not in quiet.stdout and "CORRUPT" in quiet.stdout
