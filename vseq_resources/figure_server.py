"""A small read-only HTTP server for the store's figures, so that the Dagster UI can show them.

Browsers do not open ``file://`` links from a web page, and the store may be ``s3://`` behind
credentials; the pre-night briefing's materialization therefore links its figures through this
server (``VSEQ_STORE_HTTP_URL``, see :meth:`vseq_resources.config.ArchiveSettings.http_url`).
It serves ``GET /<path>`` as the store file ``<store base>/<path>``, read through
``lsst.resources`` (so a ``file://`` and an ``s3://`` store are served alike, with the server's
own credentials, which never reach the browser), for PNG files only (the briefing figures:
nothing else of the archive is exposed), on 127.0.0.1 by default.

``vseq-services start`` runs it in the background (:func:`start`); ``python -m
vseq_resources.figure_server --store URI --port N`` runs it in the foreground. Its process id
and URL are recorded in ``<state dir>/services/figures.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PORT = 3001
SERVED_SUFFIXES = (".png",)
RECORD = Path("services") / "figures.json"


@dataclass(frozen=True)
class FigureServer:
    """A figure server started by :func:`start`: process, URL and the store it serves."""

    pid: int
    url: str
    store: str

    @property
    def alive(self) -> bool:
        return _alive(self.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers kill(0).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def served_path(request_path: str) -> str | None:
    """The store-relative path of a request, or None when it must not be served (not a PNG, or
    a path that could leave the store: ``..``, an absolute part, a backslash, a control character)."""
    raw = request_path.split("?", 1)[0].split("#", 1)[0]
    if not raw.startswith("/"):
        return None
    path = urllib.parse.unquote(raw[1:])
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts):
        return None
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return None
    if not path.lower().endswith(SERVED_SUFFIXES):
        return None
    return path


def _handler(store: str) -> type[BaseHTTPRequestHandler]:
    from lsst.resources import ResourcePath

    base = ResourcePath(store, forceDirectory=True)

    class Handler(BaseHTTPRequestHandler):
        server_version = "vseq-figures"

        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            self._answer(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(send_body=False)

        def _answer(self, send_body: bool) -> None:
            path = served_path(self.path)
            if path is None:
                self.send_error(HTTPStatus.NOT_FOUND, "only the store's PNG figures are served")
                return
            try:
                data = base.join(path).read()
            except FileNotFoundError:
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            except Exception as err:  # the store is unreachable: say so, keep serving
                log.warning("figure server: cannot read %s: %s", path, err)
                self.send_error(HTTPStatus.BAD_GATEWAY, "the store cannot be read")
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("figure server: " + format, *args)

    return Handler


def make_server(store: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A server (not yet serving) for the PNG files under ``store``; port 0 picks a free one."""
    return ThreadingHTTPServer((host, port), _handler(store))


def server_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/"


# -- in the background -------------------------------------------------------------------------


def record_path(state_dir: Path) -> Path:
    return Path(state_dir) / RECORD


def recorded(state_dir: Path) -> FigureServer | None:
    """The server recorded under ``state_dir`` (running or not), or None."""
    try:
        data = json.loads(record_path(state_dir).read_text())
        return FigureServer(int(data["pid"]), str(data["url"]), str(data["store"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(state_dir: Path) -> FigureServer | None:
    """The recorded server if its process runs, else None."""
    server = recorded(state_dir)
    return server if server is not None and server.alive else None


def start(
    state_dir: Path, store: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: float = 15.0
) -> FigureServer:
    """Start the server in the background for ``store`` (or keep the one running for it).

    A server already running for another store is stopped first. Raises ``RuntimeError`` with
    the server's own output when it does not answer within ``timeout`` seconds (a port in use).
    """
    current = running(state_dir)
    if current is not None:
        if current.store == store:
            return current
        stop(state_dir)
    record = record_path(state_dir)
    record.parent.mkdir(parents=True, exist_ok=True)
    output = record.with_name("figures.log")
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vseq_resources.figure_server",
                "--store",
                store,
                "--host",
                host,
                "--port",
                str(port),
                "--record",
                str(record),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the shell that started it, as the database does
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server = recorded(state_dir)
        if server is not None and server.pid == process.pid and _answers(server.url):
            return server
        if process.poll() is not None:
            break
        time.sleep(0.1)
    if process.poll() is None:
        process.terminate()
    raise RuntimeError(
        f"the figure server did not start on {host}:{port}: {output.read_text(errors='replace').strip()}"
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "probe.png", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered (404: no such figure)
    except OSError:
        return False


def stop(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the recorded server; True if one was running."""
    server = recorded(state_dir)
    if server is None:
        return False
    was_running = server.alive
    if was_running:
        os.kill(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while server.alive and time.monotonic() < deadline:
            time.sleep(0.05)
    record_path(state_dir).unlink(missing_ok=True)
    return was_running


# -- command line ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the store's PNG figures over HTTP (read-only).")
    parser.add_argument("--store", required=True, help="store base URI (file:///... or s3://...)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--record", type=Path, help="write pid, URL and store here once serving")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        server = make_server(args.store, args.host, args.port)
    except OSError as err:
        sys.exit(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}")
    host, port = server.server_address[:2]
    url = server_url(str(host), int(port))
    if args.record is not None:
        tmp = args.record.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(FigureServer(os.getpid(), url, args.store))))
        tmp.replace(args.record)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leaves serve_forever through SystemExit
    log.info("serving the PNG figures of %s at %s", args.store, url)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":  # pragma: no cover
    main()
