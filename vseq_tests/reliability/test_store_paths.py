"""Store bases that would put files somewhere other than they seem to say (issue 19, point 10:
``..`` segments, relative bases, an empty ``VSEQ_ARCHIVE_URI``).

Each is tried through the public interfaces (``vseqarchive archive-file --archive-base``, the
``VSEQ_ARCHIVE_URI`` setting, ``ArchiveStore``): it is refused in one line naming the fix, and
nothing is written anywhere (the directory a ``..`` would reach stays absent, no row changes).
"""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize("how", ["dotdot", "dot", "relative"])
def test_archive_base_escaping_the_store_is_refused(
    file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    seq = file_archive.record_sequence(
        "simulations", small_visits("2026-04-10"), label="target", telescope="simonyi"
    )
    store = Path(file_archive.store.base.ospath)
    base = {
        "dotdot": f"{store.as_uri()}/../escape/",
        "dot": f"{store.as_uri()}/./",
        "relative": "escape/",
    }[how]
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"must not escape\n")
    counts, files = row_counts(file_archive), store_listing(file_archive)
    result = CliRunner().invoke(
        cli,
        ["archive-file", str(seq.uuid), str(notes), "notes", "--archive-base", base],
        env=_env(file_archive, pg_url),
    )
    line = _one_line_failure(result)
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
