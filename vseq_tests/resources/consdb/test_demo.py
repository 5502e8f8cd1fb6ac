"""The local demo ConsDB: counting the nights it already has, without creating anything."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from vseq_resources.consdb.demo import nights_present
from vseq_tests.resources.consdb.synthetic import LSSTCAM_VISITS, NIGHT


def test_nights_present_reads_counts_and_creates_nothing(filled_consdb: sa.Engine, pg_url: str) -> None:
    night = dt.date.fromisoformat(NIGHT)
    following = night + dt.timedelta(days=1)
    assert nights_present(filled_consdb, "lsstcam", [night, following]) == {
        night: LSSTCAM_VISITS,
        following: 0,
    }
    name = f"consdb_empty_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    empty = sa.create_engine(sa.make_url(pg_url).set(database=name))  # no ConsDB schema yet
    try:
        assert nights_present(empty, "lsstcam", [night]) == {night: 0}
        assert not sa.inspect(empty).has_schema("cdb_lsstcam")  # fill_nights creates it
    finally:
        empty.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
