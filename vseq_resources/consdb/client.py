"""Clients of ConsDB: direct SQL where the network allows it, the REST query service elsewhere.

Both answer ``query(sql, params)`` with a pandas DataFrame, so the code that reads visits does
not care which one it has. Parameters use SQLAlchemy's ``:name`` style; the REST service takes
plain SQL text, so the REST client renders them as literals with PostgreSQL's own quoting.
Failures become vseq errors whose messages never contain the access token.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import pandas as pd
import requests
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ..errors import ConfigurationError, InvalidInputError, VseqError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying: the service or a proxy in front of it is busy or restarting.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: The longest wait honoured from a ``Retry-After`` header (seconds): a pipeline run must not stall.
MAX_RETRY_AFTER = 60.0


class ConsDBError(VseqError):
    """ConsDB answered something vseq cannot use."""


class ConsDBUnavailableError(ConsDBError, ConfigurationError):
    """ConsDB could not be reached, or kept failing after every retry."""


class ConsDBAuthError(ConsDBError, ConfigurationError):
    """ConsDB refused the credentials."""


class ConsDBQueryError(ConsDBError, InvalidInputError):
    """ConsDB rejected the query itself (syntax, unknown column, not allowed)."""


class _TransientFailure(Exception):
    """A failure worth retrying, with the server's requested wait (seconds) if it gave one."""

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ConsDBClient(ABC):
    """Something that runs a read-only SQL query on ConsDB and returns the rows."""

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` (``:name`` placeholders filled from ``params``) and return its rows."""


class SqlConsDBClient(ConsDBClient):
    """Direct SQL to a ConsDB PostgreSQL database (inside the observatory's networks)."""

    def __init__(self, url: str | sa.URL | sa.Engine) -> None:
        self.engine = url if isinstance(url, sa.Engine) else sa.create_engine(url, pool_pre_ping=True)

    def __repr__(self) -> str:
        return f"SqlConsDBClient({self.engine.url.render_as_string(hide_password=True)!r})"

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        where = self.engine.url.render_as_string(hide_password=True)
        try:
            with self.engine.connect() as conn:
                # We only ever read ConsDB: make the server refuse anything else.
                conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                result = conn.execute(sa.text(sql), dict(params or {}))
                frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as err:
            raise ConsDBUnavailableError(f"cannot query ConsDB at {where}: {_first_line(err)}") from err
        except sa.exc.DBAPIError as err:
            raise ConsDBQueryError(f"ConsDB at {where} rejected the query: {_first_line(err)}") from err
        return frame


class RestConsDBClient(ConsDBClient):
    """The ConsDB REST query service: ``POST {base_url}/query`` with ``{"query": sql}``.

    Connection errors, timeouts and HTTP 429/5xx are retried ``retries`` times, waiting
    ``backoff * 2**attempt`` seconds (or the server's ``Retry-After``, if longer, up to a minute), because the
    service and the proxies in front of it do fail transiently. Other failures are raised at once.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 1.0,
    ) -> None:
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise InvalidInputError("retries and backoff must be >= 0 and timeout > 0")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"RestConsDBClient({self.base_url!r}, token={'<set>' if self._token else None})"

    @property
    def query_url(self) -> str:
        return f"{self.base_url}/query"

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        body = {"query": render_sql(sql, params) if params else sql}
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        attempt = 0
        while True:
            try:
                return self._post(body, headers)
            except _TransientFailure as failure:
                if attempt >= self.retries:
                    raise ConsDBUnavailableError(
                        f"ConsDB at {self.query_url} failed {attempt + 1} times; last: {failure.reason}"
                    ) from None
                delay = max(self.backoff * 2**attempt, min(failure.retry_after, MAX_RETRY_AFTER))
                log.warning("ConsDB query failed (%s); retrying in %.1f s", failure.reason, delay)
                time.sleep(delay)
                attempt += 1

    def _post(self, body: dict[str, str], headers: dict[str, str]) -> pd.DataFrame:
        """One request: the rows, or ``_TransientFailure`` for what is worth retrying."""
        try:
            response = self._session.post(self.query_url, json=body, headers=headers, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise _TransientFailure(f"{type(err).__name__}: {self._redact(_first_line(err))}") from None
        if response.status_code in RETRY_STATUSES:
            raise _TransientFailure(f"HTTP {response.status_code}", _retry_after(response))
        detail = self._redact(_error_detail(response))
        if response.status_code in (401, 403):
            raise ConsDBAuthError(
                f"ConsDB at {self.query_url} refused the access token (HTTP {response.status_code}): "
                f"{detail}; check the token and that it allows ConsDB queries"
            )
        if response.status_code != 200:
            raise ConsDBQueryError(
                f"ConsDB at {self.query_url} rejected the query (HTTP {response.status_code}): {detail}"
            )
        return _frame_from_json(response, self.query_url)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text


def render_sql(sql: str, params: Mapping[str, Any]) -> str:
    """``sql`` with ``:name`` parameters rendered as PostgreSQL literals (safely quoted)."""
    statement = sa.text(sql).bindparams(**params)
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def _frame_from_json(response: requests.Response, url: str) -> pd.DataFrame:
    try:
        payload = response.json()
        return pd.DataFrame(payload["data"], columns=payload["columns"])
    except (ValueError, KeyError, TypeError) as err:
        raise ConsDBError(f"ConsDB at {url} answered something other than columns and data: {err}") from err


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else 0.0


def _error_detail(response: requests.Response) -> str:
    """The server's error message, short: JSON ``message``/``detail`` if any, else the text."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(payload, dict):
        for key in ("message", "detail", "error"):
            if key in payload:
                return str(payload[key])[:300]
    return str(payload)[:300]


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__
