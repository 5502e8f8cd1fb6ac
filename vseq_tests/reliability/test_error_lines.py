"""Errors that used to come out as tracebacks, each now one line naming the input and the fix
(issue 19, point 8): a full ``TMPDIR``, a scheduler configuration that cannot be loaded, a bad
``VSEQ_PRENIGHT_NIGHTS``, and ``add-nightly-stats`` with columns the visits lack. (Creation
times out of range and statistics of no existing column are in ``test_bad_input.py``.)
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from vseq_assets import nightly
from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.tempfiles import TemporarySpaceError
from vseq_tests.reliability.support import (
    VSEQARCHIVE,
    big_visits,
    row_counts,
    small_visits,
    store_listing,
    subprocess_env,
)
from vseq_tests.services import skip_unless_ci

NIGHT = "2026-04-11"
TMPFS_BYTES = 256 * 1024


def _env(archive: VisitSequenceArchive, pg_url: str, **extra: str) -> dict[str, str]:
    return {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": str(archive.store.base),
        "VSEQ_NO_PROGRESS": "1",
        **extra,
    }


@pytest.fixture
def full_tmpdir(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: too small for any visits.h5 of these tests (needs root to mount)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        skip_unless_ci(f"cannot mount a small tmpfs here (root needed): {done.stderr.strip()}")
    try:
        assert shutil.disk_usage(mount).total <= TMPFS_BYTES
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_tmpdir_is_one_line_naming_it(
    file_archive: VisitSequenceArchive,
    pg_url: str,
    full_tmpdir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    visits = big_visits(NIGHT, 20_000)  # a visits.h5 of about 5 MB
    stored = file_archive.record_sequence("simulations", visits, label="stored", telescope="simonyi")
    size = file_archive.store.stored_file(stored.visitseq_url).size
    # The proof that the directory cannot hold the file: the file is larger than the whole disk.
    assert size > 10 * shutil.disk_usage(full_tmpdir).total, size
    counts, files = row_counts(file_archive), store_listing(file_archive)

    # The API: record_sequence writes visits.h5 in TMPDIR before storing it (HDF5's 70-line
    # trace ending in "NoSuchNodeError: group / does not have a child named /observations").
    monkeypatch.setattr(tempfile, "tempdir", str(full_tmpdir))
    with pytest.raises(TemporarySpaceError) as caught:
        file_archive.record_sequence("simulations", visits, label="no room", telescope="simonyi")
    message = str(caught.value)
    assert "\n" not in message and str(full_tmpdir) in message and "set TMPDIR" in message, message
    assert caught.value.__suppress_context__  # the HDF5 trace is not printed with it
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert row_counts(file_archive) == counts and store_listing(file_archive) == files

    # The CLI (a real process, whose TMPDIR is the full disk): reading through a verified copy.
    env = subprocess_env({**_env(file_archive, pg_url), "TMPDIR": str(full_tmpdir)})
    uuid = str(stored.uuid)
    for args in (
        ["get-file", uuid, "visits", str(tmp_path / "copy.h5")],
        ["get-visits", uuid, str(tmp_path / "visits.parquet")],
    ):
        done = subprocess.run([VSEQARCHIVE, *args], env=env, capture_output=True, text=True, check=False)
        lines = done.stderr.splitlines()
        assert done.returncode == 1, (args, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("vseqarchive: error: no space left"), done.stderr
        assert str(full_tmpdir) in lines[0] and "set TMPDIR" in lines[0]
        assert not done.stdout
    # Nothing was left in the full directory, and the same command works with room.
    assert not list(full_tmpdir.iterdir())
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [VSEQARCHIVE, "get-visits", uuid, str(tmp_path / "visits.parquet")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_add_nightly_stats_says_which_columns_it_skipped(
    file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path
) -> None:
    """A requested column the visits lack used to be skipped silently (exit 0, nothing stored
    for it); now a warning names it. None existing at all fails (``test_bad_input``)."""
    from vseq_resources.visits import write_visits_h5

    seq = file_archive.record_sequence(
        "simulations", small_visits(NIGHT), label="s", telescope="simonyi", nightly_stats=False
    )
    visits = write_visits_h5(tmp_path / "v.h5", small_visits(NIGHT))
    result = CliRunner().invoke(
        cli,
        ["add-nightly-stats", str(seq.uuid), str(visits), "altitude", "nosuchcolumn"],
        env=_env(file_archive, pg_url),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"vseqarchive: warning: {visits} has no column 'nosuchcolumn': no statistics of it stored"
    ]
    assert set(file_archive.metadata.query_nightly_stats(seq.uuid)["value_name"]) == {"altitude"}


BAD_SCHEDULERS = {
    "missing module": ("nosuch_config_module.sub:get_scheduler", "cannot import"),
    "missing function": ("vseq_resources.simulation.default_config:no_such_function", "no function"),
    "missing file": ("{tmp}/missing_config.py", "does not exist"),
    "not Python": ("{tmp}/broken_config.py", "not valid Python"),
    "neither": ("no_such_thing", "neither a .py file nor module:function"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCHEDULERS))
def test_vseq_nightly_bad_scheduler_fails_before_starting(case: str, tmp_path: Path) -> None:
    (tmp_path / "broken_config.py").write_text("def get_scheduler(:\n")
    source, expected = BAD_SCHEDULERS[case]
    source = source.format(tmp=tmp_path)
    state = tmp_path / "state"
    result = CliRunner().invoke(
        nightly.main,
        ["2026-04-11"],
        env={"VSEQ_PRENIGHT_SCHEDULER": source, "VSEQ_STATE_DIR": str(state)},
    )
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"Error: VSEQ_PRENIGHT_SCHEDULER={source!r}: ") and expected in lines[0]
    assert "unset it for the default" in lines[0]
    assert not state.exists() or not any(state.iterdir())  # nothing was started


def test_vseq_nightly_bad_prenight_nights(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = CliRunner().invoke(
        nightly.main, ["2026-04-11"], env={"VSEQ_PRENIGHT_NIGHTS": "three", "VSEQ_STATE_DIR": str(state)}
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: VSEQ_PRENIGHT_NIGHTS='three' is not a whole number from 1 to 14: fix it or unset it"
    ]
    assert not state.exists() or not any(state.iterdir())


def test_scheduler_check_accepts_what_loads(tmp_path: Path) -> None:
    from vseq_resources.config import PrenightSettings

    script = tmp_path / "config.py"
    script.write_text("def get_scheduler():\n    raise RuntimeError('not called by the check')\n")
    assert PrenightSettings(scheduler=str(script)).check_scheduler() == script.as_uri()
    assert PrenightSettings().check_scheduler().startswith("python:vseq_resources.simulation")
