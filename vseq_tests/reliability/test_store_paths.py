"""Store bases that would put files somewhere other than they seem to say (issue 19, point 10:
``..`` segments, relative bases, an empty ``VSEQ_ARCHIVE_URI``).

Each is tried through the public interfaces (``vseqarchive archive-file --archive-base``, the
``VSEQ_ARCHIVE_URI`` setting, ``ArchiveStore``): it is refused in one line naming the fix, and
nothing is written anywhere (the directory a ``..`` would reach stays absent, no row changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.config import ArchiveSettings
from vseq_resources.errors import ConfigurationError, InvalidInputError
from vseq_resources.store import ArchiveStore
from vseq_tests.reliability.support import row_counts, small_visits, store_listing


def _env(archive: VisitSequenceArchive, pg_url: str, **extra: str) -> dict[str, str]:
    return {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": str(archive.store.base),
        **extra,
    }


def _one_line_failure(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def _target(archive: VisitSequenceArchive, tmp_path: Path) -> tuple[Any, Path]:
    """A sequence and a notes file to archive next to it."""
    visits = small_visits("2026-04-10")
    seq = archive.record_sequence("simulations", visits, label="target", telescope="simonyi")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"must stay in the store\n")
    return seq, notes


def _archive_file(archive: VisitSequenceArchive, pg_url: str, seq: Any, notes: Path, base: str) -> Any:
    """``vseqarchive archive-file`` of ``notes`` to ``seq`` with ``--archive-base base``."""
    return CliRunner().invoke(
        cli,
        ["archive-file", str(seq.uuid), str(notes), "notes", "--archive-base", base],
        env=_env(archive, pg_url),
    )


@pytest.mark.parametrize("how", ["dotdot", "dot", "relative"])
def test_archive_base_escaping_the_store_is_refused(
    file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    seq, notes = _target(file_archive, tmp_path)
    store = Path(file_archive.store.base.ospath)
    base = {
        "dotdot": f"{store.as_uri()}/../escape/",
        "dot": f"{store.as_uri()}/./",
        "relative": "escape/",
    }[how]
    monkeypatch.chdir(tmp_path)
    counts, files = row_counts(file_archive), store_listing(file_archive)
    line = _one_line_failure(_archive_file(file_archive, pg_url, seq, notes, base))
    assert ("relative path" if how == "relative" else "'..' segment") in line, line
    assert not (store.parent / "escape").exists() and not (tmp_path / "escape").exists()
    assert row_counts(file_archive) == counts and store_listing(file_archive) == files


def test_archive_uri_with_dotdot_is_refused_by_the_api(file_base: str) -> None:
    with pytest.raises(InvalidInputError, match=r"'\.\.' segment"):
        ArchiveStore(f"{file_base}simonyi/../../escape/")
    with pytest.raises(InvalidInputError, match=r"'\.\.' segment"):
        ArchiveStore("s3://bucket/opsim/../vseq/")
    # Names that merely contain dots are fine.
    assert str(ArchiveStore(f"{file_base}v1..2/").base).endswith("/v1..2/")


def test_empty_archive_uri_fails_in_one_line(
    file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="VSEQ_ARCHIVE_URI is set but empty"):
        ArchiveSettings.from_env({"VSEQ_ARCHIVE_URI": "", "VSEQ_STATE_DIR": str(tmp_path / "state")})
    with pytest.raises(ConfigurationError, match="VSEQ_ARCHIVE_URI is set but empty"):
        ArchiveSettings.from_env({"VSEQ_ARCHIVE_URI": "  ", "VSEQ_STATE_DIR": str(tmp_path / "state")})
    seq = file_archive.record_sequence(
        "simulations", small_visits("2026-04-10"), label="target", telescope="simonyi"
    )
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"where would this go?\n")
    result = CliRunner().invoke(
        cli,
        ["archive-file", str(seq.uuid), str(notes), "notes"],
        env=_env(file_archive, pg_url, VSEQ_ARCHIVE_URI="", VSEQ_STATE_DIR=str(tmp_path / "state")),
    )
    assert "VSEQ_ARCHIVE_URI is set but empty" in _one_line_failure(result)
    assert not (tmp_path / "state" / "archive").exists()
    # Unset still means the state-dir store.
    unset = ArchiveSettings.from_env({"VSEQ_STATE_DIR": str(tmp_path / "state")})
    assert unset.store_uri == (tmp_path / "state" / "archive").as_uri() + "/"


SYSTEM_BASES = {
    "/etc": "file:///etc/",
    "the root": "file:///",
    "under /usr": "file:///usr/local/share/vseq/",
    "a plain /etc path": "/etc/vseq/",
    "a link to /etc": "{tmp}/etc-link/",
}


@pytest.mark.parametrize("case", sorted(SYSTEM_BASES))
def test_system_directory_bases_are_refused(
    case: str, file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path
) -> None:
    """``file:///etc/`` used to write and register files among the system's own (only file
    permissions stopped it; this test runs as root, so nothing but the rule stops it here)."""
    (tmp_path / "etc-link").symlink_to("/etc")
    base = SYSTEM_BASES[case].format(tmp=tmp_path)
    seq, notes = _target(file_archive, tmp_path)
    counts, files = row_counts(file_archive), store_listing(file_archive)
    line = _one_line_failure(_archive_file(file_archive, pg_url, seq, notes, base))
    assert "system directory" in line and "give a directory of its own" in line, line
    assert not Path("/etc/simonyi").exists() and not Path("/simonyi").exists()
    assert row_counts(file_archive) == counts and store_listing(file_archive) == files
    # The same base as the configured store.
    configured = CliRunner().invoke(
        cli,
        ["archive-file", str(seq.uuid), str(notes), "notes"],
        env=_env(file_archive, pg_url, VSEQ_ARCHIVE_URI=base),
    )
    assert "system directory" in _one_line_failure(configured)
    with pytest.raises(InvalidInputError, match="system directory"):
        ArchiveStore(base)


def test_verify_checks_files_outside_the_store(
    file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path
) -> None:
    """A file stored with another base (``--archive-base``, as production allows) used to be
    listed as OUTSIDE without being checked; now its checksum is checked and a missing or
    changed one is reported (marked outside this store), and repair never touches it."""
    seq = file_archive.record_sequence(
        "simulations", small_visits("2026-04-10"), label="target", telescope="simonyi"
    )
    other = tmp_path / "other-store"
    other.mkdir()
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"kept in another store\n")
    env = _env(file_archive, pg_url)
    stored = CliRunner().invoke(
        cli,
        ["archive-file", str(seq.uuid), str(notes), "notes", "--archive-base", other.as_uri() + "/"],
        env=env,
    )
    assert stored.exit_code == 0, stored.output
    url = stored.stdout.strip()
    assert url.startswith(other.as_uri())

    def verify(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            cli, ["verify", "--grace-hours", "0", *args], env=env, catch_exceptions=False
        )

    clean = verify()
    assert clean.exit_code == 0, clean.output
    assert f"OUTSIDE  {url} (notes of {seq.uuid}): not in this store, checksum matches" in clean.stdout
    assert "1 outside the store (1 checked)" in clean.stdout

    local = Path(url.removeprefix("file://"))
    local.write_bytes(b"changed outside the store\n")
    changed = verify("--repair")
    assert changed.exit_code == 1, changed.output
    assert f"CORRUPT  {url} (notes of {seq.uuid}, outside this store): SHA-256" in changed.stdout
    assert local.read_bytes() == b"changed outside the store\n"  # repair never touches it

    local.unlink()
    gone = verify()
    assert gone.exit_code == 1
    assert f"MISSING  {url} (notes of {seq.uuid}, outside this store)" in gone.stdout
