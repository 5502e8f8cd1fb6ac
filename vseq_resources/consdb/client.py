"""Clients of ConsDB: direct SQL where the network allows it, the REST query service elsewhere.

Both answer ``query(sql, params)`` with a pandas DataFrame, so the code that reads visits does
not care which one it has. Parameters use SQLAlchemy's ``:name`` style; the REST service takes
plain SQL text, so the REST client renders them as literals (`render_sql`, SQLAlchemy's
PostgreSQL quoting). Transient HTTP failures are retried by urllib3's ``Retry`` under requests.
Failures become vseq errors whose messages never contain the access token.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import pandas as pd
import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..errors import ConfigurationError, InvalidInputError, VseqError
from .query import render_sql

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

    Connection errors, timeouts and HTTP 429/5xx are retried ``retries`` times by urllib3's
    ``Retry`` (the first retry at once, then after ``backoff * 2**k`` seconds, k = 1, 2, ...; or
    after the server's ``Retry-After``, up to a minute), because the service and the proxies in
    front of it do fail transiently. The queries only read, so retrying a POST is safe. Other
    failures are raised at once.
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
        retry = Retry(
            total=retries,
            allowed_methods=frozenset({"POST"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff,
            retry_after_max=MAX_RETRY_AFTER,
            raise_on_status=False,  # the last answer is returned, and reported below
        )
        self._session = requests.Session()
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, HTTPAdapter(max_retries=retry))

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
        gave_up = f"ConsDB at {self.query_url} failed {self.retries + 1} times; last:"
        try:
            response = self._session.post(self.query_url, json=body, headers=headers, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise ConsDBUnavailableError(f"{gave_up} {self._redact(_transport_failure(err))}") from None
        if response.status_code in RETRY_STATUSES:
            raise ConsDBUnavailableError(f"{gave_up} HTTP {response.status_code}")
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


def _frame_from_json(response: requests.Response, url: str) -> pd.DataFrame:
    try:
        payload = response.json()
        return pd.DataFrame(payload["data"], columns=payload["columns"])
    except (ValueError, KeyError, TypeError) as err:
        raise ConsDBError(f"ConsDB at {url} answered something other than columns and data: {err}") from err


def _transport_failure(err: requests.RequestException) -> str:
    """The last underlying failure (urllib3 wraps it in ``MaxRetryError`` once retries run out)."""
    cause = err.args[0] if err.args else err
    reason = getattr(cause, "reason", None) or cause
    return f"{type(reason).__name__}: {_first_line(reason)}"


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
