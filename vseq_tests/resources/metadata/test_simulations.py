"""Simulation queries: they must answer what the reference's view-based queries answer."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from vseq_resources.errors import InvalidInputError, NotFoundError
from vseq_resources.metadata import MetadataDatabase, migrate
from vseq_resources.metadata.schema import SIMULATIONS_EXTRA_COLUMNS, STATS_VALUE_COLUMNS

from .support import NOW, AddSimulation, digest

UTC = dt.UTC


def _hours_ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def _populate(db: MetadataDatabase) -> dict[str, uuid.UUID]:
    """Simulations that each fail one filter of the pre-night query, and two that pass."""
    specs = {
        # name: (hours before NOW, first, last, tags, telescope)
        "match_old": (30, "2025-12-08", "2025-12-10", ("prenight", "ideal", "nominal", "x"), "simonyi"),
        "match_new": (3, "2025-12-09", "2025-12-09", ("prenight", "ideal", "nominal"), "simonyi"),
        "too_old": (60, "2025-12-08", "2025-12-10", ("prenight", "ideal", "nominal"), "simonyi"),
        "other_telescope": (4, "2025-12-09", "2025-12-09", ("prenight", "ideal", "nominal"), "auxtel"),
        "other_night": (5, "2025-12-10", "2025-12-11", ("prenight", "ideal", "nominal"), "simonyi"),
        "missing_tag": (6, "2025-12-09", "2025-12-09", ("prenight", "ideal"), "simonyi"),
        "same_day_later": (2, "2025-12-09", "2025-12-09", ("ideal", "nominal"), "simonyi"),
    }
    made = {}
    for name, (hours, first, last, tags, telescope) in specs.items():
        made[name] = db.insert_visitseq(
            "simulations",
            {
                "visitseq_sha256": digest(name),
                "visitseq_label": name,
                "telescope": telescope,
                "first_day_obs": first,
                "last_day_obs": last,
                "creation_time": _hours_ago(hours),
                "conda_env_sha256": digest("env"),
                "sim_runner_kwargs": {"name": name},
            },
        )
        db.tag(made[name], *tags)
    db.comment(made["match_new"], "looks good", author="me")
    db.register_file(made["match_new"], "rewards", digest("r"), "file:///rewards.h5")
    stats = pd.DataFrame(
        {
            "day_obs": ["2025-12-09"] * 2,
            "value_name": ["airmass", "airmass"],
            "accumulated": [True, False],
            "count": [20, 10],
            "mean": [1.3, 1.2],
        }
    )
    if not db.has_table("accumulated_stats"):
        # A schema vseq has not adopted has nowhere to keep cumulative statistics apart from the
        # reference's readers: vseq refuses to write them there (test_database).
        stats = stats.loc[~stats["accumulated"]]
    db.insert_nightly_stats(made["match_new"], stats)
    return made


def _reference_prenight(
    engine: sa.Engine, schema: str, night: str, telescope: str, tags: tuple[str, ...], age: int, stats: bool
) -> pd.DataFrame:
    """The reference implementation's pre-night query, on its view, in a UTC session."""
    stats_cte = (
        "WITH aggstats AS (SELECT visitseq_uuid, JSONB_OBJECT_AGG(value_name, "
        "TO_JSONB(ns) - 'value_name' - 'visitseq_uuid' - 'day_obs') AS stats "
        "FROM nightly_stats AS ns WHERE NOT accumulated GROUP BY ns.visitseq_uuid) "
    )
    sql = (
        (
            stats_cte + "SELECT s.*, ns.stats FROM simulations_extra AS s "
            "LEFT JOIN aggstats AS ns ON s.visitseq_uuid = ns.visitseq_uuid "
        )
        if stats
        else "SELECT * FROM simulations_extra AS s "
    ) + (
        "WHERE CAST(:night AS DATE) BETWEEN first_day_obs AND last_day_obs AND telescope = :telescope "
        + ("AND tags @> CAST(:tags AS JSONB) " if tags else "")
        + "AND creation_time >= CAST(:now AS TIMESTAMPTZ) - CAST(:age AS INTERVAL) ORDER BY creation_time"
    )
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET timezone TO 'UTC'")
        result = conn.execute(
            sa.text(sql),
            {
                "night": night,
                "telescope": telescope,
                "tags": json.dumps(list(tags)),
                "now": NOW,
                "age": f"{age} days",
            },
        )
        columns = list(result.keys())
        rows = [[bytes(v) if isinstance(v, memoryview) else v for v in row] for row in result]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("visitseq_uuid", "parent_visitseq_uuid"):
        frame[column] = frame[column].map(lambda v: uuid.UUID(v) if isinstance(v, str) else v)
    return frame


@pytest.fixture
def reference_db(pg_url: str, reference_schema: str) -> Iterator[MetadataDatabase]:
    """A MetadataDatabase on a schema the reference created, not migrated."""
    database = MetadataDatabase.from_url(pg_url, reference_schema)
    yield database
    database.close()


QUERIES = [
    ("2025-12-09", "simonyi", ("prenight", "ideal", "nominal"), 2),
    ("2025-12-09", "simonyi", ("ideal",), 2),
    ("2025-12-09", "simonyi", ("ideal",), 10),
    ("2025-12-10", "simonyi", ("prenight",), 10),
    ("2025-12-09", "auxtel", ("prenight", "ideal", "nominal"), 2),
    ("2025-12-09", "simonyi", (), 2),
]


@pytest.mark.parametrize("with_stats", [False, True])
def test_prenight_matches_reference_view(
    engine: sa.Engine, reference_db: MetadataDatabase, with_stats: bool
) -> None:
    """Same rows, columns, values and daily ids as the view, before and after adoption."""
    _populate(reference_db)
    compared = 0
    for migrated in (False, True):
        if migrated:
            migrate(engine, reference_db.schema)
        for night, telescope, tags, age in QUERIES:
            ours = reference_db.prenight_simulations(
                night, telescope, tags=tags, max_simulation_age=age, with_stats=with_stats, now=NOW
            )
            theirs = _reference_prenight(engine, reference_db.schema, night, telescope, tags, age, with_stats)
            pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
            compared += len(ours)
    assert compared > 10


def test_prenight_filters(db: MetadataDatabase) -> None:
    made = _populate(db)
    found = db.prenight_simulations("20251209", "simonyi", now=NOW)
    assert list(found.columns) == list(SIMULATIONS_EXTRA_COLUMNS)
    assert list(found["visitseq_uuid"]) == [made["match_old"], made["match_new"]]
    assert found["tags"].iloc[0] == ["ideal", "nominal", "prenight", "x"]
    assert found["files"].iloc[1] == {"rewards": "file:///rewards.h5"}
    assert list(found["comments"].iloc[1].values()) == ["looks good"]
    assert found["conda_env_sha256"].iloc[0] == digest("env")
    no_age_limit = db.prenight_simulations("2025-12-09", "simonyi", max_simulation_age=None, now=NOW)
    assert made["too_old"] in set(no_age_limit["visitseq_uuid"])
    any_tags = db.prenight_simulations("2025-12-09", "simonyi", tags=(), now=NOW)
    assert set(any_tags["visitseq_uuid"]) == {
        made[n] for n in ("match_old", "match_new", "missing_tag", "same_day_later")
    }
    assert db.prenight_simulations("2025-12-09", "simonyi", tags=("nope",), now=NOW).empty


def test_prenight_stats(db: MetadataDatabase) -> None:
    made = _populate(db)
    found = db.prenight_simulations("2025-12-09", "simonyi", with_stats=True, now=NOW)
    found = found.set_index("visitseq_uuid")
    assert found.loc[made["match_old"], "stats"] is None
    airmass = found.loc[made["match_new"], "stats"]["airmass"]
    assert airmass["accumulated"] is False and airmass["count"] == 10 and airmass["mean"] == 1.2
    assert set(airmass) == {"accumulated", *STATS_VALUE_COLUMNS}
    other_night = db.prenight_simulations("2025-12-08", "simonyi", with_stats=True, now=NOW)
    assert other_night["stats"].isna().all()


def test_daily_ids(db: MetadataDatabase, add_simulation: AddSimulation) -> None:
    noon = dt.datetime(2025, 12, 9, 12, 0, tzinfo=UTC)
    before_noon = add_simulation(noon - dt.timedelta(minutes=1))  # dayobs 2025-12-08
    first = add_simulation(noon)
    tied = sorted([add_simulation(noon + dt.timedelta(hours=1)) for _ in range(2)])
    later = add_simulation(noon + dt.timedelta(hours=23, minutes=59))
    assert db.uuid_for_daily_id("2025-12-08", 1) == before_noon
    assert [db.uuid_for_daily_id("20251209", i) for i in (1, 2, 3, 4)] == [first, *tied, later]
    with pytest.raises(NotFoundError, match="2025-12-09 #5"):
        db.uuid_for_daily_id("2025-12-09", 5)
    with pytest.raises(InvalidInputError):
        db.uuid_for_daily_id("2025-12-09", 0)
    meta = db.simulation_metadata(tied[1])
    assert (meta["sim_creation_day_obs"], meta["daily_id"]) == (dt.date(2025, 12, 9), 3)
    with db.transaction() as conn:
        view = {
            row.visitseq_uuid: (row.sim_creation_day_obs, row.daily_id)
            for row in conn.exec_driver_sql("SELECT * FROM simulations_extra")
        }
    assert view == {
        u: (db.simulation_metadata(u)["sim_creation_day_obs"], db.simulation_metadata(u)["daily_id"])
        for u in (before_noon, first, *tied, later)
    }


def test_creation_dayobs_ignores_session_time_zone(
    engine: sa.Engine, db: MetadataDatabase, reference_schema: str, add_simulation: AddSimulation
) -> None:
    """In Chile (UTC-3) the reference view moves a 13:30 UTC simulation to the previous dayobs."""
    created = dt.datetime(2025, 12, 9, 13, 30, tzinfo=UTC)
    add_simulation(created)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f'INSERT INTO "{reference_schema}".simulations (visitseq_sha256, visitseq_label, telescope, '
                "creation_time) VALUES ('\\x00', 'ref', 'simonyi', :t)"
            ),
            {"t": created},
        )

    def day_obs(schema: str, zone: str) -> dt.date:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET search_path TO \"{schema}\"; SET timezone TO '{zone}'")
            return conn.exec_driver_sql("SELECT sim_creation_day_obs FROM simulations_extra").scalar_one()

    assert day_obs(db.schema, "America/Santiago") == day_obs(db.schema, "UTC") == dt.date(2025, 12, 9)
    assert day_obs(reference_schema, "America/Santiago") == dt.date(2025, 12, 8)  # the reference bug
    migrate(engine, reference_schema)
    assert day_obs(reference_schema, "America/Santiago") == dt.date(2025, 12, 9)
