"""The local demo ConsDB: the nights it already has (without creating anything), and never a
night that has not ended."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from vseq_resources.consdb.demo import fill_local_consdb, nights_present
from vseq_resources.errors import InvalidInputError
from vseq_tests.resources.consdb.synthetic import LSSTCAM_VISITS, NIGHT


def test_nights_present_reads_counts_and_creates_nothing(filled_consdb: sa.Engine, pg_url: str) -> None:
    night = dt.date.fromisoformat(NIGHT)
    following = night + dt.timedelta(days=1)
    assert nights_present(filled_consdb, "lsstcam", [night, following]) == {night: LSSTCAM_VISITS}
    name = f"consdb_empty_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    empty = sa.create_engine(sa.make_url(pg_url).set(database=name))  # no ConsDB schema yet
    try:
        assert nights_present(empty, "lsstcam", [night]) == {}
        assert not sa.inspect(empty).has_schema("cdb_lsstcam")  # fill_nights creates it
    finally:
        empty.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_night_that_has_not_ended_is_never_invented(tmp_path: Path) -> None:
    now = dt.datetime(2026, 12, 5, 11, 0, tzinfo=dt.UTC)  # dayobs 2026-12-04 ends at 12:00 UTC
    with pytest.raises(InvalidInputError, match="dayobs 2026-12-04 has not ended"):
        fill_local_consdb(tmp_path, ["simonyi"], [dt.date(2026, 12, 3), dt.date(2026, 12, 4)], now=now)
    assert not any(tmp_path.iterdir())  # nothing was started or simulated
