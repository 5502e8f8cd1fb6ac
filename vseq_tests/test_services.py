"""The test services themselves are real: PostgreSQL answers SQL, S3 stores objects."""

import sqlalchemy as sa
from lsst.resources import ResourcePath


def test_postgres_answers(pg_url: str) -> None:
    with sa.create_engine(pg_url).connect() as conn:
        assert conn.execute(sa.text("select 1 + 1")).scalar() == 2


def test_s3_round_trip(s3_base: str) -> None:
    target = ResourcePath(s3_base).join("probe.txt")
    target.write(b"vseq")
    assert target.read() == b"vseq"
    assert ResourcePath(s3_base).join("missing.txt").exists() is False
