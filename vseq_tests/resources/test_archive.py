"""The Python API: every operation of ``VisitSequenceArchive`` against real services.

Runs on a real PostgreSQL schema and on both store kinds (``file://`` and SeaweedFS ``s3://``).
Atomicity is tested by real failures at each step of recording: an upload the store refuses, a
side-file upload that fails after the visits were stored, and a transaction the database aborts.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from lsst.resources import ResourcePath

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.config import ArchiveSettings
from vseq_resources.errors import IntegrityError, InvalidInputError, NotFoundError, StoreError
from vseq_resources.metadata.database import MetadataDatabase
from vseq_resources.store import ArchiveStore
from vseq_resources.visits import read_visits_h5, visits_content_hash
from vseq_tests.resources.consdb.synthetic import synthetic_night

NIGHT = "2026-03-10"
CREATED = dt.datetime(2026, 3, 10, 18, 0, tzinfo=dt.UTC)


@pytest.fixture
def archive(pg_url: str, db_schema: str, store_base: str) -> Iterator[VisitSequenceArchive]:
    metadata = MetadataDatabase.from_url(pg_url, db_schema, create=True)
    yield VisitSequenceArchive(metadata, ArchiveStore(store_base))
    metadata.close()


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    return synthetic_night(NIGHT, n_visits=120, seed=3)


def _store_files(archive: VisitSequenceArchive) -> list[str]:
    return sorted(entry.url for entry in archive.store.walk_files())


def _row_count(archive: VisitSequenceArchive, table: str = "visitseq") -> int:
    with archive.metadata.transaction() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_record_simulation_with_everything(
    archive: VisitSequenceArchive, visits: pd.DataFrame, tmp_path: Path
) -> None:
    config = tmp_path / "scheduler_config.py"
    config.write_text("def get_scheduler():\n    ...\n")
    rewards = pd.DataFrame({"reward": [0.5, 1.5]})
    env_hash = archive.record_package_environment()
    parent = archive.record_sequence(
        "completed", visits.iloc[:10], label="Completed visits", telescope="simonyi", query="SELECT 1"
    )
    seq = archive.record_sequence(
        "simulations",
        visits,
        label="Nominal start and overhead, ideal conditions",
        telescope="simonyi",
        creation_time=CREATED,
        extra_tables={"info": pd.DataFrame({"Parameter": ["x"], "Value": ["y"]})},
        files={"scheduler.py": config, "notes.txt": b"plain bytes"},
        tags=["prenight", "ideal", "nominal", "nominal"],
        comments=["first comment", ("tester", "second comment")],
        scheduler_version="4.6.0",
        config_url="https://github.com/lsst/ts_config_scheduler/blob/abc/prenight.py",
        conda_env_sha256=env_hash,
        parent_visitseq_uuid=parent.uuid,
        parent_last_day_obs=dt.date(2026, 3, 9),
        sim_runner_kwargs={"mjd_start": 61109.5, "survey_length": 1.0},
    )
    assert seq.created and seq.n_visits == len(visits)
    assert seq.first_day_obs == seq.last_day_obs == dt.date(2026, 3, 10)
    assert seq.visitseq_sha256 == visits_content_hash(visits)
    assert seq.visitseq_url.endswith(f"/simonyi/2026-03-10/{seq.uuid}/visits.h5")

    meta = archive.get_metadata(seq.uuid)
    assert meta["scheduler_version"] == "4.6.0"
    assert meta["parent_visitseq_uuid"] == parent.uuid
    assert meta["sim_runner_kwargs"] == {"mjd_start": 61109.5, "survey_length": 1.0}
    assert meta["creation_time"] == CREATED and meta["creation_time"].tzinfo is not None
    assert archive.metadata.get_tags(seq.uuid) == ["ideal", "nominal", "prenight"]
    comments = archive.metadata.get_comments(seq.uuid)
    authors = [None if pd.isna(a) else a for a in comments["author"]]
    by_text = dict(zip(comments["comment"], authors, strict=True))
    assert by_text == {"first comment": None, "second comment": "tester"}
    files = archive.metadata.get_files(seq.uuid)
    assert set(files) == {"scheduler", "notes"}
    assert ResourcePath(files["notes"][0]).read() == b"plain bytes"

    back = archive.get_visits(seq.uuid)
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True), visits.reset_index(drop=True), check_dtype=False
    )
    assert visits_content_hash(back) == seq.visitseq_sha256
    assert list(read_visits_h5(seq.visitseq_url, key="info")["Parameter"]) == ["x"]
    stats = archive.metadata.query_nightly_stats(seq.uuid)
    assert len(stats) and set(stats["day_obs"]) == {dt.date(2026, 3, 10)}

    archive.record_sequence(
        "simulations",
        visits,
        label="rewards",
        telescope="simonyi",
        files={"rewards.h5": _h5(tmp_path, rewards)},
    )


def _h5(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "rewards.h5"
    frame.to_hdf(path, key="reward_df")
    return path


def test_record_completed_and_mixed(archive: VisitSequenceArchive, visits: pd.DataFrame) -> None:
    completed = archive.record_sequence(
        "completed", visits, label="ConsDB night", telescope="auxtel", query="SELECT * FROM cdb_latiss.visit1"
    )
    late = archive.record_sequence("simulations", visits, label="sim", telescope="auxtel")
    mixed = archive.record_sequence(
        "mixedvisitseq",
        visits,
        label="completed then simulated",
        telescope="auxtel",
        last_early_day_obs="2026-03-09",
        first_late_day_obs="20260310",
        early_parent_uuid=completed.uuid,
        late_parent_uuid=late.uuid,
    )
    assert archive.metadata.table_of(completed.uuid) == "completed"
    assert archive.get_metadata(completed.uuid)["query"].startswith("SELECT")
    meta = archive.get_metadata(mixed.uuid)
    assert meta["last_early_day_obs"] == dt.date(2026, 3, 9)
    assert meta["first_late_day_obs"] == dt.date(2026, 3, 10)
    assert meta["early_parent_uuid"] == completed.uuid


def test_empty_night_is_a_valid_sequence(archive: VisitSequenceArchive, visits: pd.DataFrame) -> None:
    empty = visits.iloc[:0]
    seq = archive.record_sequence(
        "completed", empty, label="no visits", telescope="simonyi", first_day_obs=NIGHT, last_day_obs=NIGHT
    )
    assert seq.n_visits == 0 and seq.first_day_obs == dt.date(2026, 3, 10)
    assert len(archive.get_visits(seq.uuid)) == 0


def test_annotations_and_urls(archive: VisitSequenceArchive, visits: pd.DataFrame) -> None:
    seq = archive.record_sequence("simulations", visits, label="annotated", telescope="simonyi")
    archive.tag(seq.uuid, "prenight", "nominal")
    archive.tag(seq.uuid, "prenight")
    assert archive.is_tagged(seq.uuid, "prenight") and not archive.is_tagged(seq.uuid, "ideal")
    archive.untag(seq.uuid, "prenight")
    assert not archive.is_tagged(str(seq.uuid), "prenight")
    archive.comment(seq.uuid, "looks fine", author="obs")
    assert list(archive.metadata.get_comments(seq.uuid)["author"]) == ["obs"]
    archive.metadata.set_visitseq_url(seq.uuid, "s3://elsewhere/visits.h5")
    assert archive.metadata.get_visitseq_url(seq.uuid) == "s3://elsewhere/visits.h5"
    archive.metadata.update_metadata(seq.uuid, "scheduler_version", "9.9")
    assert archive.get_metadata(seq.uuid)["scheduler_version"] == "9.9"
    with pytest.raises(InvalidInputError):
        archive.metadata.update_metadata(seq.uuid, "no_such_field", "x")
    with pytest.raises(InvalidInputError):
        archive.tag(seq.uuid, "two words")


def test_archive_file_and_get_file(
    archive: VisitSequenceArchive, visits: pd.DataFrame, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vseq_resources.archive")
    seq = archive.record_sequence(
        "simulations", None, label="metadata only", telescope="simonyi", store_visits=False
    )
    assert seq.visitseq_url is None
    assert (
        f"recorded simulations {seq.uuid} (0 visits) (metadata only: its visits are not stored)"
        in caplog.messages
    )
    opsim = tmp_path / "opsim.db"
    with sqlite3.connect(opsim) as conn:
        visits.to_sql("observations", conn, index=False)
        pd.DataFrame({"Parameter": ["a"], "Value": ["b"]}).to_sql("info", conn, index=False)
    url = archive.archive_file(seq.uuid, opsim, "visits")
    assert url.endswith("/visits.h5") and archive.metadata.get_visitseq_url(seq.uuid) == url
    assert len(archive.get_visits(seq.uuid)) == len(visits)

    back = archive.get_file(seq.uuid, "visits", tmp_path / "back.db")
    with sqlite3.connect(back) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"observations", "info"}
        assert conn.execute("SELECT count(*) FROM observations").fetchone()[0] == len(visits)

    notes = tmp_path / "notes.txt"
    notes.write_text("v1")
    notes_url = archive.archive_file(seq.uuid, notes, "notes")
    with pytest.raises(InvalidInputError, match="already has"):
        archive.archive_file(seq.uuid, notes, "notes")
    notes.write_text("v2")
    assert archive.archive_file(seq.uuid, notes, "notes", update=True) == notes_url
    assert archive.get_file(seq.uuid, "notes", tmp_path / "copy.txt").read_text() == "v2"
    with pytest.raises(NotFoundError):
        archive.get_file(seq.uuid, "missing-type", tmp_path / "x")


def test_get_file_detects_tampering(
    archive: VisitSequenceArchive, visits: pd.DataFrame, tmp_path: Path
) -> None:
    seq = archive.record_sequence("simulations", visits, label="tampered", telescope="simonyi")
    target = ResourcePath(seq.visitseq_url)
    data = bytearray(target.read())
    data[len(data) // 2] ^= 0xFF
    target.write(bytes(data), overwrite=True)
    with pytest.raises(
        IntegrityError, match=f"refusing to read the visits of sequence {seq.uuid}: .*recorded"
    ):
        archive.get_file(seq.uuid, "visits", tmp_path / "visits.h5")
    assert not (tmp_path / "visits.h5").exists()


def test_nightly_stats_and_some_nights(archive: VisitSequenceArchive) -> None:
    two_nights = pd.concat(
        [synthetic_night("2026-03-10", 50, seed=1), synthetic_night("2026-03-11", 40, seed=2)]
    )
    seq = archive.record_sequence("simulations", two_nights, label="two nights", telescope="simonyi")
    assert (seq.first_day_obs, seq.last_day_obs) == (dt.date(2026, 3, 10), dt.date(2026, 3, 11))
    assert len(archive.get_visits(seq.uuid, nights=["20260311"])) == 40
    stats = archive.add_nightly_stats(seq.uuid, two_nights, columns=["airmass"])
    assert set(stats["value_name"]) == {"airmass"}
    stored = archive.metadata.query_nightly_stats(seq.uuid)
    airmass = stored[(stored["value_name"] == "airmass") & ~stored["accumulated"]]
    assert list(airmass["count"]) == [50, 40]


def test_prenight_queries_through_the_archive(archive: VisitSequenceArchive, visits: pd.DataFrame) -> None:
    now = dt.datetime(2026, 3, 10, 20, tzinfo=dt.UTC)
    first = archive.record_sequence(
        "simulations",
        visits,
        label="a",
        telescope="simonyi",
        creation_time=now - dt.timedelta(hours=2),
        tags=["prenight", "ideal", "nominal"],
    )
    second = archive.record_sequence(
        "simulations",
        visits,
        label="b",
        telescope="simonyi",
        creation_time=now - dt.timedelta(hours=1),
        tags=["prenight", "ideal", "nominal"],
    )
    found = archive.metadata.prenight_simulations(NIGHT, "simonyi", now=now, with_stats=True)
    assert list(found["visitseq_uuid"].map(str)) == [str(first.uuid), str(second.uuid)] or set(
        found["visitseq_uuid"].map(str)
    ) == {str(first.uuid), str(second.uuid)}
    assert all(isinstance(s, dict) and s for s in found["stats"])
    assert len(archive.metadata.prenight_simulations(NIGHT, "simonyi", tags=(), now=now)) == 2
    assert archive.metadata.uuid_for_daily_id("2026-03-10", 2) == second.uuid
    assert archive.metadata.simulation_metadata(first.uuid)["daily_id"] == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"telescope": "hubble"}, "telescope"),
        ({"label": ""}, "label"),
        ({"label": "x" * 5000}, "label"),
        ({"tags": ["ok", "bad\x00tag"]}, "tag"),
        ({"creation_time": dt.datetime(2026, 3, 10, 12)}, "aware"),
        ({"first_day_obs": "2026-03-11", "last_day_obs": "2026-03-10"}, "after"),
        ({"no_such_column": 1}, "no_such_column"),
    ],
)
def test_bad_input_writes_nothing(
    archive: VisitSequenceArchive, visits: pd.DataFrame, kwargs: dict, message: str
) -> None:
    args = {"label": "bad", "telescope": "simonyi", **kwargs}
    with pytest.raises(InvalidInputError, match=message):
        archive.record_sequence("simulations", visits, **args)
    assert _row_count(archive) == 0
    assert _store_files(archive) == []


def test_unknown_uuid(archive: VisitSequenceArchive) -> None:
    with pytest.raises(NotFoundError):
        archive.get_metadata(uuid.uuid4())
    with pytest.raises(InvalidInputError, match="UUID"):
        archive.get_metadata("not-a-uuid")


# -- atomicity ---------------------------------------------------------------------------------


class _FailingSecondUpload(ArchiveStore):
    """A real store whose second upload of a call fails, as a dropped connection would."""

    def __init__(self, base_uri: str) -> None:
        super().__init__(base_uri)
        self.uploads = 0

    def put_file(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.uploads += 1
        if self.uploads == 1:
            raise StoreError("injected: the store went away during the side-file upload")
        return super().put_file(*args, **kwargs)


def test_failure_during_visits_upload(pg_url: str, db_schema: str, s3_server, visits: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """The server refuses the upload itself (SeaweedFS rejects tenant-qualified bucket names)."""
    metadata = MetadataDatabase.from_url(pg_url, db_schema, create=True)
    archive = VisitSequenceArchive(metadata, ArchiveStore("s3://rubin:refused-by-seaweedfs/archive/"))
    with pytest.raises(StoreError):
        archive.record_sequence("simulations", visits, label="lost", telescope="simonyi")
    assert _row_count(archive) == 0


def test_failure_after_visits_stored(
    pg_url: str, db_schema: str, store_base: str, visits: pd.DataFrame, tmp_path: Path
) -> None:
    metadata = MetadataDatabase.from_url(pg_url, db_schema, create=True)
    archive = VisitSequenceArchive(metadata, _FailingSecondUpload(store_base))
    with pytest.raises(StoreError, match="injected"):
        archive.record_sequence(
            "simulations", visits, label="half", telescope="simonyi", files={"notes.txt": b"side file"}
        )
    assert _row_count(archive) == 0
    assert _store_files(archive) == []  # the visits.h5 written before the failure was removed


def test_failure_inside_the_transaction(archive: VisitSequenceArchive, visits: pd.DataFrame) -> None:
    """The database refuses the last statement of the transaction: nothing of it remains."""
    bad_stats = pd.DataFrame({"day_obs": [dt.date(2026, 3, 10)], "value_name": [None], "count": [1]})
    with pytest.raises(Exception):  # noqa: B017 - whatever the database says, nothing may remain
        archive.record_sequence(
            "simulations",
            visits,
            label="aborted",
            telescope="simonyi",
            tags=["prenight"],
            comments=["gone"],
            files={"notes.txt": b"x"},
            nightly_stats=bad_stats,
        )
    for table in ("visitseq", "tags", "comments", "files", "file_checksums", "nightly_stats"):
        assert _row_count(archive, table) == 0, table
    assert _store_files(archive) == []


def test_zero_configuration_uses_embedded_database(
    tmp_path_factory: pytest.TempPathFactory, visits: pd.DataFrame
) -> None:
    import tempfile

    from vseq_resources.embedded import stop_embedded_database

    state = Path(tempfile.mkdtemp(prefix="vseq-zero-config-", dir="/var/tmp"))
    try:
        archive = VisitSequenceArchive.open(ArchiveSettings(state_dir=state))
        seq = archive.record_sequence("completed", visits, label="zero config", telescope="simonyi")
        assert seq.visitseq_url.startswith((state / "archive").as_uri())
        assert len(archive.get_visits(seq.uuid)) == len(visits)
        archive.metadata.close()
        reopened = VisitSequenceArchive.open(ArchiveSettings(state_dir=state))
        assert reopened.get_metadata(seq.uuid)["visitseq_label"] == "zero config"
        reopened.metadata.close()
    finally:
        stop_embedded_database(state)
