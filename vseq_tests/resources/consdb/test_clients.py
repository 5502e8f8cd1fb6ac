"""SQL and REST clients against the local ConsDB and its local REST service (real HTTP)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http import HTTPStatus

import pandas as pd
import pytest
import sqlalchemy as sa

from vseq_resources.consdb import (
    ConsDBAuthError,
    ConsDBQueryError,
    ConsDBUnavailableError,
    RestConsDBClient,
    SqlConsDBClient,
    consdb_to_opsim,
    night_visits_query,
)
from vseq_resources.consdb.rest_server import ConsDBRequestHandler, ConsDBRestServer
from vseq_tests.resources.consdb.synthetic import LSSTCAM_VISITS, NIGHT, REST_TOKEN
from vseq_tests.services import free_port

COUNT_NIGHT = "SELECT count(*) AS n FROM cdb_lsstcam.visit1 WHERE day_obs = 20251016"


def fast_client(base_url: str, token: str | None = REST_TOKEN, retries: int = 3) -> RestConsDBClient:
    return RestConsDBClient(base_url, token, timeout=10, retries=retries, backoff=0.01)


class FlakyHandler(ConsDBRequestHandler):
    """Answers 503 while the server has failures left, then behaves normally."""

    server: FlakyServer

    def do_POST(self) -> None:  # noqa: N802
        self.server.requests += 1
        if self.server.failures_left > 0:
            self.server.failures_left -= 1
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"message": "try again later"})
            return
        super().do_POST()


class FlakyServer(ConsDBRestServer):
    def __init__(self, engine: sa.Engine, failures: int) -> None:
        super().__init__(engine, REST_TOKEN, handler_class=FlakyHandler)
        self.failures_left = failures
        self.requests = 0


@pytest.fixture
def flaky_server(filled_consdb: sa.Engine) -> Iterator[FlakyServer]:
    server = FlakyServer(filled_consdb, failures=2)
    server.start()
    yield server
    server.stop()


def test_sql_client_queries_with_parameters(filled_consdb: sa.Engine) -> None:
    client = SqlConsDBClient(filled_consdb)
    frame = client.query("SELECT count(*) AS n FROM cdb_lsstcam.visit1 WHERE day_obs = :d", {"d": 20251016})
    assert frame["n"].tolist() == [LSSTCAM_VISITS]


def test_sql_client_is_read_only(filled_consdb: sa.Engine) -> None:
    client = SqlConsDBClient(filled_consdb)
    with pytest.raises(ConsDBQueryError, match="read-only"):
        client.query("DELETE FROM cdb_lsstcam.visit1")
    with pytest.raises(ConsDBQueryError, match="syntax"):
        client.query("SELEC 1")
    assert client.query(COUNT_NIGHT)["n"].tolist() == [LSSTCAM_VISITS]


def test_sql_client_reports_unreachable_server() -> None:
    client = SqlConsDBClient(f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/consdb")
    with pytest.raises(ConsDBUnavailableError, match="cannot query ConsDB"):
        client.query("SELECT 1")


def test_rest_and_sql_give_the_same_visits(filled_consdb: sa.Engine, rest_base_url: str) -> None:
    sql = night_visits_query("lsstcam", NIGHT)
    by_sql = SqlConsDBClient(filled_consdb).query(sql)
    by_rest = fast_client(rest_base_url).query(sql)
    assert list(by_rest.columns) == list(by_sql.columns)
    assert len(by_rest) == LSSTCAM_VISITS
    # Timestamps travel as ISO strings over REST; everything the conversion uses is equal.
    assert by_rest["obs_start"].tolist() == [t.isoformat() for t in by_sql["obs_start"]]
    pd.testing.assert_frame_equal(consdb_to_opsim(by_rest, "lsstcam"), consdb_to_opsim(by_sql, "lsstcam"))


def test_rest_values_are_json_safe_and_parameters_rendered(rest_base_url: str) -> None:
    frame = fast_client(rest_base_url).query(
        "SELECT 'NaN'::float AS nan, :label AS label, exposure_name FROM cdb_lsstcam.visit1"
        " WHERE exposure_name LIKE 'MC%' ORDER BY seq_num LIMIT 1",
        {"label": "it's"},
    )
    assert frame.iloc[0].to_dict() == {"nan": None, "label": "it's", "exposure_name": "MC_O_20251016_000001"}


def test_rest_parameters_reach_the_server_as_given(rest_base_url: str) -> None:
    """Rendered literals are PostgreSQL's, not a driver's: a ``%`` stays one ``%`` (psycopg2's
    parameter style would double it, changing the value the server sees)."""
    value = "50% of it's \\ done"
    frame = fast_client(rest_base_url).query("SELECT :v AS v, length(:v) AS n", {"v": value})
    assert frame.iloc[0].to_dict() == {"v": value, "n": len(value)}


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM cdb_lsstcam.visit1",
        "SELECT 1; DELETE FROM cdb_lsstcam.visit1",
        "WITH gone AS (DELETE FROM cdb_lsstcam.visit1 RETURNING 1) SELECT count(*) FROM gone",
    ],
)
def test_rest_server_only_reads(filled_consdb: sa.Engine, rest_base_url: str, sql: str) -> None:
    client = fast_client(rest_base_url)
    with pytest.raises(ConsDBQueryError, match="HTTP 400"):
        client.query(sql)
    assert client.query(COUNT_NIGHT)["n"].tolist() == [LSSTCAM_VISITS]


def test_rest_reports_sql_errors(rest_base_url: str) -> None:
    with pytest.raises(ConsDBQueryError, match="no_such_table"):
        fast_client(rest_base_url).query("SELECT * FROM cdb_lsstcam.no_such_table")


def test_rest_retries_transient_failures(flaky_server: FlakyServer) -> None:
    frame = fast_client(flaky_server.base_url, retries=3).query(COUNT_NIGHT)
    assert frame["n"].tolist() == [LSSTCAM_VISITS]
    assert flaky_server.requests == 3


def test_rest_gives_up_after_the_retries(flaky_server: FlakyServer) -> None:
    with pytest.raises(ConsDBUnavailableError, match=r"failed 2 times; last: HTTP 503"):
        fast_client(flaky_server.base_url, retries=1).query(COUNT_NIGHT)
    assert flaky_server.requests == 2


def test_rest_unreachable_service(caplog: pytest.LogCaptureFixture) -> None:
    secret = "unreachable-secret-token"
    client = fast_client(f"http://127.0.0.1:{free_port()}", token=secret, retries=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(ConsDBUnavailableError, match="3 times") as info:
        client.query("SELECT 1")
    assert secret not in str(info.value)
    assert secret not in caplog.text
    assert secret not in repr(client)


@pytest.mark.parametrize("token", ["wrong-token-0123456789", None])
def test_rest_bad_token_is_a_clear_error(
    rest_base_url: str, token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    client = fast_client(rest_base_url, token=token)
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(ConsDBAuthError, match="refused the access token") as info,
    ):
        client.query("SELECT 1")
    for secret in filter(None, (token, REST_TOKEN)):
        assert secret not in str(info.value)
        assert secret not in caplog.text
        assert secret not in repr(client)
