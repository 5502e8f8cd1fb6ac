"""The one atomic writer (``vseq_resources.atomic``) and the files written through it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vseq_resources.atomic import TEMP_PREFIX, atomic_output
from vseq_resources.errors import InvalidInputError
from vseq_resources.visits import h5_to_opsim, opsim_to_h5, read_visits_h5, write_visits_h5


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _visits(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"observationStartMJD": 61000.5 + np.arange(n) / 100, "band": ["g"] * n})


def test_whole_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.txt"
    with atomic_output(target, ".txt") as temporary:
        assert temporary.parent == target.parent and temporary.name.startswith(TEMP_PREFIX)
        temporary.write_text("first")
        assert not target.exists()  # nothing under the final name until the block ends
    assert target.read_text() == "first" and _mode(target) == 0o666 & ~_umask()
    with pytest.raises(RuntimeError), atomic_output(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_published_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    """mkstemp makes 0600 files; visits files get the mode any program of the user would give
    them, so that others can read them where the site's umask allows it."""
    previous = os.umask(umask)
    try:
        h5 = write_visits_h5(tmp_path / "visits.h5", _visits())
        db = h5_to_opsim(h5, tmp_path / "opsim.db")
        again = opsim_to_h5(db, tmp_path / "again.h5")
    finally:
        os.umask(previous)
    assert [_mode(p) for p in (h5, db, again)] == [mode] * 3
    pd.testing.assert_frame_equal(read_visits_h5(again), read_visits_h5(h5))


def test_failed_visits_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = write_visits_h5(tmp_path / "visits.h5", _visits(3))
    before = target.read_bytes()
    # An index pandas refuses only while writing it: the observations are written by then.
    bad = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.interval_range(0, 2))
    with pytest.raises(InvalidInputError, match="cannot be stored"):
        write_visits_h5(target, _visits(7), {"extra": bad})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["visits.h5"]
