"""A small ConsDB REST query service over a local ConsDB, for tests and the demo.

It answers the production contract: ``POST /query`` with ``{"query": sql}`` and a bearer token,
answering ``{"columns": [...], "data": [[...], ...]}``. Only a single SELECT (or WITH ... SELECT)
statement is accepted, and it runs in a READ ONLY transaction, so even a data-modifying CTE that
slips past the text check is refused by PostgreSQL. Errors answer ``{"message": ...}``.
Standard-library HTTP server in a thread: nothing to install, starts in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hmac
import json
import logging
import math
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)

_READ_STATEMENT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_MAX_BODY = 1_000_000


class QueryRejected(Exception):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_read_only_sql(sql: object) -> str:
    """The statement to run if ``sql`` is one SELECT/WITH statement, else ``QueryRejected``."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRejected(HTTPStatus.BAD_REQUEST, "the body must be JSON with a non-empty 'query' string")
    statement = sql.strip().rstrip(";").rstrip()
    if ";" in statement:
        raise QueryRejected(HTTPStatus.BAD_REQUEST, "only one statement per query is allowed")
    if not _READ_STATEMENT.match(statement):
        raise QueryRejected(HTTPStatus.BAD_REQUEST, "only SELECT queries are allowed")
    return statement


def json_value(value: Any) -> Any:
    """A database value as JSON: times as ISO strings, NaN/inf as null, bytes as hex."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return json_value(float(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


class ConsDBRequestHandler(BaseHTTPRequestHandler):
    """Handles ``POST /query``; everything else is 404 (or 405 for other methods)."""

    server: ConsDBRestServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        try:
            if self.path.rstrip("/") != "/query":
                raise QueryRejected(HTTPStatus.NOT_FOUND, f"no such endpoint {self.path}")
            self._check_token()
            statement = check_read_only_sql(self._read_json().get("query"))
            columns, data = self.server.run_query(statement)
        except QueryRejected as rejected:
            self.send_json(rejected.status, {"message": rejected.message})
            return
        self.send_json(HTTPStatus.OK, {"columns": columns, "data": data})

    def do_GET(self) -> None:  # noqa: N802
        self.send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": "use POST /query"})

    def _check_token(self) -> None:
        scheme, _, given = self.headers.get("Authorization", "").partition(" ")
        expected = self.server.token
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
            raise QueryRejected(HTTPStatus.UNAUTHORIZED, "missing or invalid bearer token")

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise QueryRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise QueryRejected(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return body

    def send_json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, allow_nan=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        # Request lines only (never headers, so never the token), at debug level.
        log.debug("%s %s", self.address_string(), format % args)


class ConsDBRestServer(ThreadingHTTPServer):
    """The local REST service; use it as a context manager (``with ... as base_url``)."""

    daemon_threads = True

    def __init__(
        self,
        engine: sa.Engine,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        handler_class: type[ConsDBRequestHandler] = ConsDBRequestHandler,
    ) -> None:
        if not token:
            raise ValueError("the local ConsDB REST server needs a token")
        super().__init__((host, port), handler_class)
        self.engine = engine
        self.token = token
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def run_query(self, statement: str) -> tuple[list[str], list[list[Any]]]:
        """Run one read-only statement; SQL errors become a 400 with the database's message."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                # exec_driver_sql: the text goes to PostgreSQL as is (no ':name' binding).
                result = conn.exec_driver_sql(statement.replace("%", "%%"))
                columns = list(result.keys())
                data = [[json_value(v) for v in row] for row in result]
        except sa.exc.DBAPIError as err:
            message = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise QueryRejected(HTTPStatus.BAD_REQUEST, message) from err
        return columns, data

    def start(self) -> str:
        """Serve in a background thread; returns the base URL."""
        self._thread = threading.Thread(target=self.serve_forever, name="consdb-rest", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> str:  # type: ignore[override]
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def local_rest_server(engine: sa.Engine, token: str, port: int = 0) -> Iterator[str]:
    """Run a local ConsDB REST service on 127.0.0.1 for the duration; yields its base URL."""
    with ConsDBRestServer(engine, token, port=port) as base_url:
        yield base_url
