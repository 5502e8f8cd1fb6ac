"""Revision 0008: the cumulative statistics vseq wrote into ``nightly_stats`` move, unchanged, to
``accumulated_stats``; nothing is lost, and a downgrade puts them back."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import command

from vseq_resources.metadata.migrate import alembic_config, current_revision, migrate

VALUES = ("count", "mean", "std", "min", "p05", "q1", "median", "q3", "p95", "max")


def _rows(conn: sa.Connection, schema: str, table: str) -> list[tuple]:
    flag = "accumulated, " if table == "nightly_stats" else ""
    return [
        tuple(row)
        for row in conn.exec_driver_sql(
            f'SELECT visitseq_uuid, day_obs, value_name, {flag}{", ".join(VALUES)} FROM "{schema}".{table} '
            "ORDER BY 1, 2, 3"
        )
    ]


def test_cumulative_statistics_move_out_of_nightly_stats(pg_url: str, db_schema: str) -> None:
    engine = sa.create_engine(pg_url)
    sim = uuid.uuid4()
    try:
        # An archive vseq wrote before 0008: per-night and cumulative rows side by side.
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{db_schema}"')
            command.upgrade(alembic_config(conn, db_schema), "0007")
            conn.execute(
                sa.text(
                    f'INSERT INTO "{db_schema}".simulations (visitseq_uuid, visitseq_sha256, visitseq_label, '
                    "telescope) VALUES (:u, :h, 'sim', 'simonyi')"
                ),
                {"u": sim, "h": b"\x01" * 32},
            )
            for night, (nightly, cumulative) in {
                dt.date(2026, 4, 11): (723, 723),
                dt.date(2026, 4, 12): (724, 1447),
            }.items():
                for accumulated, count in ((False, nightly), (True, cumulative)):
                    conn.execute(
                        sa.text(
                            f'INSERT INTO "{db_schema}".nightly_stats (visitseq_uuid, day_obs, value_name, '
                            "accumulated, count, mean, std, min, p05, q1, median, q3, p95, max) VALUES "
                            "(:u, :d, 'azimuth', :a, :c, 180.5, 10.25, 1, 2, 3, 4, 5, 6, NULL)"
                        ),
                        {"u": sim, "d": night, "a": accumulated, "c": count},
                    )
            before = _rows(conn, db_schema, "nightly_stats")

        migrate(engine, db_schema)
        with engine.connect() as conn:
            nightly = _rows(conn, db_schema, "nightly_stats")
            moved = _rows(conn, db_schema, "accumulated_stats")
        assert nightly == [row for row in before if row[3] is False]
        assert moved == [row[:3] + row[4:] for row in before if row[3] is True]
        assert [row[3] for row in moved] == [723, 1447]

        with engine.begin() as conn:
            command.downgrade(alembic_config(conn, db_schema), "0007")
        with engine.connect() as conn:
            assert _rows(conn, db_schema, "nightly_stats") == before
            assert (
                conn.exec_driver_sql(f"SELECT to_regclass('\"{db_schema}\".accumulated_stats')").scalar()
                is None
            )
        assert current_revision(engine, db_schema) == "0007"
    finally:
        engine.dispose()
