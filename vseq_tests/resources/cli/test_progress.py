"""Progress of long transfers: drawn on a terminal, silent otherwise."""

from __future__ import annotations

import io

import pytest

from vseq_resources.cli.base import progress_callback


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert progress_callback("uploading") is None


def test_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.delenv("VSEQ_NO_PROGRESS", raising=False)
    progress = progress_callback("uploading visits.h5")
    assert progress is not None
    progress(2**20, 4 * 2**20)
    assert "25%" in terminal.getvalue() and "1.0/4.0 MiB" in terminal.getvalue()
    progress(4 * 2**20, 4 * 2**20)
    text = terminal.getvalue()
    assert "uploading visits.h5" in text and "100%" in text and "4.0/4.0 MiB" in text
    assert text.endswith("\n")
    counted = progress_callback("verifying", unit="files")
    assert counted is not None
    counted(3, 3)
    assert "3/3 files" in terminal.getvalue()
    monkeypatch.setenv("VSEQ_NO_PROGRESS", "1")
    assert progress_callback("quiet please") is None
