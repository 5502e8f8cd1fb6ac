"""The figure server serves the store's PNG files over http (file:// and s3:// stores) and
nothing else; started in the background it is recorded, found again, and stopped."""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lsst.resources import ResourcePath

from vseq_resources import figure_server

PNG = b"\x89PNG\r\n\x1a\n" + b"figure" * 10


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read(), answer.headers["Content-Type"]
    except urllib.error.HTTPError as err:
        return err.code, b"", ""


@pytest.mark.parametrize(
    "path, served",
    [
        ("/ab/cd/briefing_sky.png", "ab/cd/briefing_sky.png"),
        ("/ab/cd/briefing%20sky.png", "ab/cd/briefing sky.png"),
        ("/ab/visits.h5", None),
        ("/ab/../../etc/x.png", None),
        ("/ab/%2e%2e/x.png", None),
        ("//etc/x.png", None),
        ("/ab/./x.png", None),
        ("/ab\\..\\x.png", None),
        ("/ab/x%0a.png", None),
        ("/", None),
    ],
)
def test_only_store_relative_png_paths_are_served(path: str, served: str | None) -> None:
    assert figure_server.served_path(path) == served


def test_serves_pngs_of_either_store(store_base: str) -> None:
    base = ResourcePath(store_base, forceDirectory=True)
    base.join("ab/cd/briefing_sky.png").write(PNG)
    base.join("ab/cd/visits.h5").write(b"not for the browser")
    state = Path(tempfile.mkdtemp(prefix="vseq-figures-", dir="/var/tmp"))
    try:
        server = figure_server.start(state, store_base, port=0)
        assert server.alive and server.url.startswith("http://127.0.0.1:")
        assert figure_server.running(state) == server
        assert figure_server.start(state, store_base, port=0) == server  # kept, not restarted
        assert _get(server.url + "ab/cd/briefing_sky.png") == (200, PNG, "image/png")
        assert _get(server.url + "ab/cd/visits.h5")[0] == 404
        assert _get(server.url + "ab/cd/missing.png")[0] == 404
    finally:
        assert figure_server.stop(state)
    assert figure_server.running(state) is None and not server.alive
    assert not figure_server.stop(state)


def test_port_in_use_fails_with_the_reason(file_base: str, tmp_path: Path) -> None:
    busy = figure_server.make_server(file_base, port=0)
    try:
        with pytest.raises(RuntimeError, match="did not start.*Address already in use"):
            figure_server.start(tmp_path, file_base, port=busy.server_address[1], timeout=20)
    finally:
        busy.server_close()
    assert figure_server.running(tmp_path) is None
