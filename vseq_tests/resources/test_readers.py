"""The reader API: database first, snapshots when the database is unreachable or stopped, the same
types either way; latest selection, visits of nights, obsloctap's window, night statistics, UUID
lookups, partitions loaded in one call, and the reference reader loading what vseq writes."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import socket
import tempfile
import uuid as uuidlib
from pathlib import Path

import pandas as pd
import pytest
from lsst.resources import ResourcePath

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.config import ArchiveSettings
from vseq_resources.errors import InvalidInputError, NotFoundError
from vseq_resources.prenight_index import prenight_index_path, write_prenight_index
from vseq_resources.readers import (
    OBSLOCTAP_COLUMNS,
    ArchiveReader,
    NoMatchingSimulationsError,
    load_partition,
    obsloctap_window,
)
from vseq_resources.visits import dayobs_ordinals
from vseq_tests.resources.readers_support import record_sim, sim_visits

FIXTURES = Path(__file__).parent.parent / "fixtures"
NIGHTS = ("2026-04-11", "2026-04-12", "2026-04-13")
CREATED = "2026-04-11T14:00:00+00:00"
NOW = dt.datetime(2026, 4, 11, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def db_reader(archive: VisitSequenceArchive, url: str) -> ArchiveReader:
    return ArchiveReader(url, archive.metadata.schema, archive.settings.index_uri)


def offline_reader(archive: VisitSequenceArchive, port: int) -> ArchiveReader:
    """A reader whose database is a closed port: everything comes from the snapshots."""
    return ArchiveReader(
        f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres",
        archive.metadata.schema,
        archive.settings.index_uri,
    )


def fill(archive: VisitSequenceArchive) -> dict[str, str]:
    """A nominal simulation and two variants made for 2026-04-11 (covering three nights), an
    older nominal one, and one that is not pre-night; snapshots written for the covered nights."""
    sims = {
        "older": record_sim(
            archive, "older nominal", NIGHTS[:2], created="2026-04-10T14:00:00+00:00", seed=7
        ),
        "nominal": record_sim(archive, "nominal", NIGHTS, created=CREATED),
        "delayed": record_sim(
            archive, "delayed", NIGHTS, ("prenight", "ideal", "delay_60"), "2026-04-11T14:05:00+00:00", seed=3
        ),
        "no_stats": record_sim(
            archive,
            "no stats",
            NIGHTS,
            ("prenight", "degraded"),
            "2026-04-11T14:10:00+00:00",
            nightly_stats=False,
        ),
        "not_prenight": record_sim(
            archive, "other", NIGHTS, ("ideal", "nominal"), "2026-04-11T15:00:00+00:00"
        ),
    }
    archive.comment(sims["nominal"], "looks fine", author="planner")
    archive.archive_file(sims["nominal"], b"reward table", "rewards", name="rewards.h5")
    for night in ("2026-04-10", *NIGHTS):
        write_prenight_index(archive, night, "simonyi")
    return sims


def test_index_same_from_database_and_snapshot(
    archive: VisitSequenceArchive, closed_port: int, pg_url: str
) -> None:
    sims = fill(archive)
    online = db_reader(archive, pg_url)
    offline = offline_reader(archive, closed_port)
    for night in NIGHTS:
        from_db = online.prenight_index(night)
        assert online.last_source == "database"
        from_snapshot = offline.prenight_index(night)
        assert offline.last_source == "snapshot"
        pd.testing.assert_frame_equal(from_db, from_snapshot)
        # Not only the dtypes: the Python types of the values inside object columns too.
        for column in from_db.columns:
            assert [type(v) for v in from_db[column]] == [type(v) for v in from_snapshot[column]], column
    index = online.prenight_index("2026-04-12")
    assert list(index.index) == [sims["older"], sims["nominal"], sims["delayed"], sims["no_stats"]]
    assert index.index.name == "visitseq_uuid"
    nominal = index.loc[sims["nominal"]]
    assert nominal["first_day_obs"] == dt.date(2026, 4, 11) and nominal["daily_id"] == 1
    assert nominal["creation_time"] == pd.Timestamp(CREATED)
    assert nominal["tags"] == ["ideal", "nominal", "prenight"]
    assert list(nominal["comments"].values()) == ["looks fine"]
    assert set(nominal["files"]) == {"rewards"}
    assert (
        nominal["stats"]["altitude"]["count"] == 60 and nominal["stats"]["altitude"]["accumulated"] is False
    )
    assert index.loc[sims["no_stats"], "stats"] is None
    assert str(index["creation_time"].dtype) == "datetime64[ns, UTC]"
    assert index["daily_id"].dtype == "int64"

    # Nothing anywhere: empty, with the same columns and types on both paths.
    empty_db = online.prenight_index("2030-01-01")
    empty_snapshot = offline.prenight_index("2030-01-01")
    assert empty_db.empty and empty_snapshot.empty
    pd.testing.assert_frame_equal(empty_db, empty_snapshot)
    assert list(empty_db.columns) == list(index.columns)
    online.close()


def test_reference_reader_loads_snapshot(archive: VisitSequenceArchive) -> None:
    """What the production readers do (``get_prenight_index_from_bucket``) works unchanged."""
    sims = fill(archive)
    url = prenight_index_path(archive.settings.index_uri, "2026-04-12", "simonyi")
    assert url.endswith("/simonyi/2026/4/simonyi_prenights_for_2026-04-12.json")
    with ResourcePath(url).as_local() as local:
        prenights = pd.read_json(local.ospath, orient="index")
    prenights.index.name = "visitseq_uuid"
    assert set(prenights.index) == {sims["older"], sims["nominal"], sims["delayed"], sims["no_stats"]}
    row = prenights.loc[sims["nominal"]]
    assert row["visitseq_url"].endswith(f"/{sims['nominal']}/visits.h5")
    assert row["creation_time"] == pd.Timestamp(CREATED)  # read_json parses *_time columns
    assert row["sim_creation_day_obs"] == "2026-04-11" and row["daily_id"] == 1
    assert row["tags"] == ["ideal", "nominal", "prenight"] and isinstance(row["stats"], dict)
    # The reference's latest-selection code path: tags subset, creation_time comparisons.
    nominal = [u for u, r in prenights.iterrows() if {"ideal", "nominal"}.issubset(r["tags"])]
    assert max(nominal, key=lambda u: prenights.loc[u, "creation_time"]) == sims["nominal"]
    # And the visits file it names reads with pandas as the consumers read it.
    with ResourcePath(row["visitseq_url"]).as_local() as local:
        visits = pd.read_hdf(local.ospath, key="observations")
    assert len(visits) == 180


def test_old_format_snapshot(tmp_path: Path, closed_port: int) -> None:
    """A snapshot as the reference implementation writes it is read through the fallback."""
    index_uri = (FIXTURES / "prenight_index").as_uri()
    reader = ArchiveReader(
        f"postgresql+psycopg2://postgres@127.0.0.1:{closed_port}/postgres", "vsmd", index_uri
    )
    index = reader.prenight_index(20251210)
    assert reader.last_source == "snapshot"
    assert len(index) == 2
    nominal = index.loc["0b7e3c52-6a1f-4d2e-9c4b-1f2a3b4c5d6e"]
    assert nominal["sim_creation_day_obs"] == dt.date(2025, 12, 8) and nominal["daily_id"] == 2
    assert nominal["parent_last_day_obs"] == dt.date(2025, 12, 7)
    assert nominal["creation_time"] == pd.Timestamp("2025-12-08T15:09:51.399Z")
    assert nominal["stats"]["azimuth"]["count"] == 562
    assert nominal["files"]["rewards"].startswith("s3://rubin:rubin-scheduler-prenight/")
    assert index.loc["5d1c9e07-3b28-4f6a-8e15-7a9b0c1d2e3f", "stats"] is None
    assert reader.sim_uuid("2025-12-08", 3, day_obs="2025-12-10") == uuidlib.UUID(
        "5d1c9e07-3b28-4f6a-8e15-7a9b0c1d2e3f"
    )
    meta = reader.sim_metadata("0b7e3c52-6a1f-4d2e-9c4b-1f2a3b4c5d6e", day_obs="2025-12-10")
    assert meta["visitseq_label"].startswith("Nominal start") and meta["conda_env_sha256"].startswith("5233")
    latest = reader.latest_simulation("2025-12-10", max_simulation_age=None)
    assert latest["visitseq_uuid"] == "0b7e3c52-6a1f-4d2e-9c4b-1f2a3b4c5d6e"
    stats = reader.night_stats("2025-12-10", max_simulation_age=None)
    assert stats["nominal_visits"] == 562
    assert reader.prenight_index("2025-12-11").empty  # no file: no simulations


def test_fallback_when_server_does_not_answer(archive: VisitSequenceArchive) -> None:
    """A server that accepts the connection but never answers: the connect timeout applies."""
    fill(archive)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        reader = ArchiveReader(
            f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres",
            archive.metadata.schema,
            archive.settings.index_uri,
            connect_timeout=2,
        )
        index = reader.prenight_index("2026-04-11")
        assert reader.last_source == "snapshot" and len(index) == 4
        # The connect timeout applied (without it the call would wait until pytest's timeout),
        # after the reader had really tried this server.
        assert _accept_pending(silent) >= 1
        # Within the retry period the reader does not try the database again.
        reader.prenight_index("2026-04-12")
        assert reader.last_source == "snapshot"
        assert _accept_pending(silent) == 0


def _accept_pending(server: socket.socket) -> int:
    """How many connections the kernel completed on ``server`` since the last call."""
    server.setblocking(False)
    accepted = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return accepted
        connection.close()
        accepted += 1


def test_stopped_embedded_server() -> None:
    """Fill an embedded server, stop it, and read: the snapshots answer."""
    from vseq_resources.embedded import embedded_database_url, stop_embedded_database

    state = Path(tempfile.mkdtemp(prefix="vseq-readers-", dir="/var/tmp"))
    try:
        settings = ArchiveSettings(
            schema="vsmd_test_readers",
            archive_uri=(state / "archive").as_uri(),
            prenight_index_uri=(state / "prenight_index").as_uri(),
            state_dir=state,
        )
        archive = VisitSequenceArchive.open(settings, migrate=True)
        uuid = record_sim(archive, "nominal", NIGHTS[:2], created=CREATED, per_night=20)
        for night in NIGHTS[:2]:
            write_prenight_index(archive, night, "simonyi")
        url = embedded_database_url(state)
        with ArchiveReader(url, settings.schema, settings.index_uri) as reader:
            before = reader.prenight_index("2026-04-12")
            assert reader.last_source == "database"
        archive.metadata.close()
        stop_embedded_database(state)

        # Readers configured from the settings do not restart a stopped embedded server.
        reader = ArchiveReader.from_settings(settings)
        assert reader.database_url is None
        after = reader.prenight_index("2026-04-12")
        assert reader.last_source == "snapshot"
        # One configured with the server's URL falls back too.
        with ArchiveReader(url, settings.schema, settings.index_uri) as by_url:
            pd.testing.assert_frame_equal(by_url.prenight_index("2026-04-12"), before)
            assert by_url.last_source == "snapshot"
        pd.testing.assert_frame_equal(after, before)
        assert list(after.index) == [uuid]
        visits = reader.visits_for_nights("2026-04-11", "2026-04-12", now=NOW)
        assert len(visits) == 40 and visits.attrs["visitseq_uuid"] == uuid
    finally:
        stop_embedded_database(state)
        shutil.rmtree(state, ignore_errors=True)


def test_latest_selection_and_visits(archive: VisitSequenceArchive, pg_url: str, closed_port: int) -> None:
    sims = fill(archive)
    for reader in (db_reader(archive, pg_url), offline_reader(archive, closed_port)):
        latest = reader.latest_simulation("2026-04-11", now=NOW)
        assert latest["visitseq_uuid"] == sims["nominal"]  # "not_prenight" is newer but not pre-night
        assert (
            reader.latest_simulation("2026-04-11", tags=("delay_60",), now=NOW)["visitseq_uuid"]
            == sims["delayed"]
        )
        # Range: only simulations covering every night qualify (the older one ends on the 12th).
        assert reader.latest_simulation("2026-04-10", "2026-04-11", max_simulation_age=None) is None
        newest_prenight = reader.latest_simulation("2026-04-11", "2026-04-12", tags=("prenight",), now=NOW)
        assert newest_prenight["visitseq_uuid"] == sims["no_stats"]
        assert (
            reader.latest_simulation("2026-04-12", "2026-04-13", now=NOW)["visitseq_uuid"] == sims["nominal"]
        )
        # Age: two days after creation nothing is young enough.
        later = NOW + dt.timedelta(days=3)
        assert reader.latest_simulation("2026-04-12", now=later) is None
        visits = reader.visits_for_nights("2026-04-12", "2026-04-13", now=NOW)
        nights = set(dayobs_ordinals(visits["observationStartMJD"]))
        assert nights == {dt.date(2026, 4, 12).toordinal(), dt.date(2026, 4, 13).toordinal()}
        assert len(visits) == 120 and visits.attrs["visitseq_uuid"] == sims["nominal"]
        with pytest.raises(NoMatchingSimulationsError, match="no matching simulations"):
            reader.visits_for_nights("2026-04-12", now=later)
        with pytest.raises(ValueError, match="no matching simulations"):
            reader.visits_for_nights("2026-05-01", now=NOW)
        reader.close()


def test_obsloctap_window_across_night_boundary(archive: VisitSequenceArchive, closed_port: int) -> None:
    sims = fill(archive)
    reader = offline_reader(archive, closed_port)
    # During the night of 2026-04-11 (03:00 UTC on the 12th): the window starts with the next night.
    during = dt.datetime(2026, 4, 12, 3, 0, tzinfo=dt.UTC)
    window = obsloctap_window(during, 2)
    assert (window.first_day_obs, window.last_day_obs) == (dt.date(2026, 4, 12), dt.date(2026, 4, 13))
    assert window.start_mjd > 61142.5 and window.end_mjd - window.start_mjd > 1.3  # sunset..sunrise, 2 nights
    visits = reader.obsloctap_visits(now=during)
    assert list(visits.columns) == list(OBSLOCTAP_COLUMNS)
    ordinals = set(dayobs_ordinals(visits["observationStartMJD"]))
    assert ordinals == {dt.date(2026, 4, 12).toordinal(), dt.date(2026, 4, 13).toordinal()}
    assert len(visits) == 120 and visits.attrs["visitseq_uuid"] == sims["nominal"]
    assert visits["observationStartMJD"].min() > window.start_mjd
    # A given date means 00:00 UTC of that date: the evening of the 11th is then under way too.
    same = reader.obsloctap_visits("2026-04-12", now=during)
    pd.testing.assert_frame_equal(same, visits)
    # Before sunset of the 11th: the window is the 11th and 12th, one night by request.
    afternoon = dt.datetime(2026, 4, 11, 18, 0, tzinfo=dt.UTC)
    one = reader.obsloctap_visits(nights=1, now=afternoon)
    assert set(dayobs_ordinals(one["observationStartMJD"])) == {dt.date(2026, 4, 11).toordinal()}
    assert one.attrs["first_day_obs"] == one.attrs["last_day_obs"] == dt.date(2026, 4, 11)
    # Past the simulated nights: a clear error.
    with pytest.raises(NoMatchingSimulationsError, match="no matching simulations"):
        reader.obsloctap_visits(now=dt.datetime(2026, 4, 13, 18, 0, tzinfo=dt.UTC))


def test_night_stats(archive: VisitSequenceArchive, pg_url: str, closed_port: int) -> None:
    sims = fill(archive)
    for reader in (db_reader(archive, pg_url), offline_reader(archive, closed_port)):
        stats = reader.night_stats("2026-04-12", now=NOW)
        assert stats["nominal_visits"] == 60
        assert stats["altitude"]["count"] == 60 and "median" in stats["azimuth"]
        # No stored statistics: computed from the visits of that night.
        computed = reader.night_stats("2026-04-12", tags=("degraded",), now=NOW)
        assert computed["nominal_visits"] == 60 and computed["airmass"]["count"] == 60
        assert computed["airmass"]["accumulated"] is False
        assert reader.night_stats("2026-05-01", now=NOW) == {}
        reader.close()
    assert sims


def test_uuid_and_metadata_lookup(archive: VisitSequenceArchive, pg_url: str, closed_port: int) -> None:
    sims = fill(archive)
    online, offline = db_reader(archive, pg_url), offline_reader(archive, closed_port)
    for number, name in ((1, "nominal"), (2, "delayed"), (3, "no_stats")):
        assert online.sim_uuid("2026-04-11", number) == uuidlib.UUID(sims[name])
        assert offline.sim_uuid("2026-04-11", number) == uuidlib.UUID(sims[name])
    with pytest.raises(NotFoundError):
        online.sim_uuid("2026-04-11", 9)
    with pytest.raises(NotFoundError):
        offline.sim_uuid("2026-04-11", 9)
    from_db = online.sim_metadata(sims["nominal"], day_obs="2026-04-12")
    from_snapshot = offline.sim_metadata(sims["nominal"], day_obs="2026-04-12")
    # Snapshots hold numbers with 10 decimals, as the reference writes them (pandas' default).
    db_stats, snapshot_stats = from_db.pop("stats"), from_snapshot.pop("stats")
    assert set(db_stats) == set(snapshot_stats)
    for name, values in db_stats.items():
        assert values == pytest.approx(snapshot_stats[name], rel=1e-9)
    assert from_db == from_snapshot
    assert from_db["visitseq_uuid"] == sims["nominal"]
    assert online.sim_metadata(sims["nominal"], day_obs="2026-04-12")["stats"]["altitude"]["count"] == 60
    assert online.sim_metadata(sims["nominal"])["stats"] is None
    with pytest.raises(NotFoundError, match="without a night"):
        offline.sim_metadata(sims["nominal"])
    online.close()


def test_load_partition(archive: VisitSequenceArchive, pg_url: str, closed_port: int) -> None:
    sims = fill(archive)
    reader = db_reader(archive, pg_url)
    index = load_partition("simonyi/prenight_index", "2026-04-12", reader=reader)
    assert sims["nominal"] in index.index
    visits = load_partition(["simonyi", "prenight_sims"], "2026-04-11", reader=reader)
    assert len(visits) == 60
    # The partition's simulations start on its night (partition_simulations), whenever made.
    own = load_partition("simonyi/prenight_metadata", "2026-04-11", reader=reader)
    assert set(own.index) == {sims["older"], sims["nominal"], sims["delayed"], sims["no_stats"]}
    assert load_partition("simonyi/prenight_metadata", "2026-04-12", reader=reader).empty
    offline_index = load_partition(
        "simonyi/prenight_index", "2026-04-12", reader=offline_reader(archive, closed_port)
    )
    pd.testing.assert_frame_equal(index, offline_index)
    with pytest.raises(NotFoundError):
        load_partition("simonyi/completed_visits", "2026-04-11", reader=reader)
    completed = archive.record_sequence(
        "completed", sim_visits(["2026-04-10"], 25), label="Completed", telescope="simonyi", query="SELECT 1"
    )
    night_visits = load_partition("simonyi/completed_visits", "2026-04-10", reader=reader)
    assert len(night_visits) == 25
    row = load_partition("simonyi/completed_metadata", "2026-04-10", reader=reader)
    assert row["visitseq_uuid"] == completed.uuid and row["query"] == "SELECT 1"
    with pytest.raises(InvalidInputError, match="not a vseq asset key"):
        load_partition("hubble/prenight_index", "2026-04-11", reader=reader)
    reader.close()


_seeds = itertools.count(100)


def _run_sim(
    archive: VisitSequenceArchive, run: str, nights: tuple[str, ...], tags: tuple[str, ...], created: str
) -> str:
    """A simulation of pre-night run ``run`` (its ``sim_runner_kwargs["prenight_run"]``)."""
    return str(
        archive.record_sequence(
            "simulations",
            sim_visits(nights, 40, seed=next(_seeds)),
            label=f"run {run}",
            telescope="simonyi",
            first_day_obs=nights[0],
            last_day_obs=nights[-1],
            creation_time=dt.datetime.fromisoformat(created),
            tags=tags,
            sim_runner_kwargs={"prenight_run": run},
        ).uuid
    )


def test_resimulations_are_their_partitions_only(
    archive: VisitSequenceArchive, pg_url: str, closed_port: int
) -> None:
    """Re-simulations of the past (tag ``resimulation``) never answer for another night; a
    partition reads back as its own current run (the run of its newest nominal)."""
    tonight, before = "2026-04-11", ("2026-04-10", "2026-04-11", "2026-04-12")
    nominal, delayed = ("prenight", "ideal", "nominal"), ("prenight", "ideal", "delay_60")
    resim_nominal, resim_delayed = ("resimulation", "ideal", "nominal"), ("resimulation", "ideal", "delay_60")
    predicted_before = _run_sim(archive, "P", before, nominal, "2026-04-10T18:00:00+00:00")
    tonights = _run_sim(archive, "A", NIGHTS, nominal, "2026-04-11T18:00:00+00:00")
    _run_sim(archive, "A", NIGHTS, delayed, "2026-04-11T18:01:00+00:00")
    _run_sim(archive, "B", before, resim_nominal, "2026-04-11T19:00:00+00:00")
    _run_sim(archive, "B", before, resim_delayed, "2026-04-11T19:01:00+00:00")
    rerun = {
        _run_sim(archive, "C", before, resim_nominal, "2026-04-11T20:00:00+00:00"),
        _run_sim(archive, "C", before, resim_delayed, "2026-04-11T20:01:00+00:00"),
    }
    for night in (*before, *NIGHTS):
        write_prenight_index(archive, night, "simonyi")

    reader = db_reader(archive, pg_url)
    offline = offline_reader(archive, closed_port)
    for each in (reader, offline):
        # Tonight: the re-simulations of the night before cover it and are newer, yet never chosen.
        assert each.latest_simulation(tonight, max_simulation_age=None)["visitseq_uuid"] == tonights
        assert each.obsloctap_visits(tonight, 2, now=NOW).attrs["visitseq_uuid"] == tonights
        assert {"resimulation"}.isdisjoint(t for tags in each.prenight_index(tonight)["tags"] for t in tags)
        planned = load_partition("simonyi/prenight_sims", tonight, reader=each)
        mjds = archive.get_visits(tonights, nights=[tonight])["observationStartMJD"].tolist()
        assert planned["observationStartMJD"].tolist() == mjds
        own = load_partition("simonyi/prenight_metadata", tonight, reader=each)
        assert len(own) == 2 and tonights in own.index

    # The night before: its current run is the re-run C, read from the database...
    assert set(load_partition("simonyi/prenight_metadata", before[0], reader=reader).index) == rerun
    (c_nominal,) = [u for u in rerun if "nominal" in archive.metadata.get_tags(u)]
    planned = load_partition("simonyi/prenight_sims", before[0], reader=reader)
    expected = archive.get_visits(c_nominal, nights=[before[0]])
    assert planned["observationStartMJD"].tolist() == expected["observationStartMJD"].tolist()
    assert len(reader.resimulations(tonight)) == 4
    # ... while the snapshots list predictions only: there it is the night's own prediction.
    assert list(load_partition("simonyi/prenight_metadata", before[0], reader=offline).index) == [
        predicted_before
    ]
    reader.close()
    offline.close()
