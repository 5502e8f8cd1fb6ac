"""MetadataDatabase writes and reads, on a real server."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid

import pandas as pd
import pytest

from vseq_resources.errors import InvalidInputError, NotFoundError
from vseq_resources.metadata import MetadataDatabase

from .support import digest


def _completed(db: MetadataDatabase, **extra: object) -> uuid.UUID:
    row = {"visitseq_sha256": digest("done"), "visitseq_label": "completed", "telescope": "simonyi"}
    return db.insert_visitseq("completed", {**row, **extra})


def test_insert_and_get_metadata(db: MetadataDatabase) -> None:
    created = dt.datetime(2025, 12, 8, 23, 0, tzinfo=dt.UTC)
    chosen = uuid.uuid4()
    sim = db.insert_visitseq(
        "simulations",
        {
            "visitseq_uuid": str(chosen),
            "visitseq_sha256": digest("a").hex(),
            "visitseq_label": "a sim",
            "telescope": "auxtel",
            "first_day_obs": "20251208",
            "last_day_obs": dt.date(2025, 12, 9),
            "creation_time": created,
            "sim_runner_kwargs": '{"nights": 2}',
            "parent_visitseq_uuid": chosen,
        },
    )
    assert sim == chosen
    assert db.table_of(sim) == "simulations"
    row = db.get_metadata(sim)
    assert row["visitseq_sha256"] == digest("a")
    assert row["first_day_obs"] == dt.date(2025, 12, 8)
    assert row["creation_time"] == created and row["creation_time"].utcoffset() == dt.timedelta(0)
    assert row["sim_runner_kwargs"] == {"nights": 2}
    assert row["parent_visitseq_uuid"] == chosen
    assert set(db.get_metadata(sim, table="visitseq")) == {
        "visitseq_uuid",
        "visitseq_sha256",
        "visitseq_label",
        "visitseq_url",
        "telescope",
        "first_day_obs",
        "last_day_obs",
        "creation_time",
    }
    plain = db.insert_visitseq(
        "visitseq", {"visitseq_sha256": digest("p"), "visitseq_label": "p", "telescope": "x"}
    )
    assert db.table_of(plain) == "visitseq"
    assert db.get_metadata(plain)["creation_time"].tzinfo is not None


def test_insert_refuses_bad_input(db: MetadataDatabase) -> None:
    row = {"visitseq_sha256": digest("a"), "visitseq_label": "a", "telescope": "simonyi"}
    with pytest.raises(InvalidInputError, match="unknown visit sequence table"):
        db.insert_visitseq("tags", row)
    with pytest.raises(InvalidInputError, match="no column"):
        db.insert_visitseq("completed", {**row, "scheduler_version": "1"})
    with pytest.raises(InvalidInputError, match="needs visitseq_label"):
        db.insert_visitseq("completed", {"visitseq_sha256": digest("a"), "telescope": "simonyi"})
    with pytest.raises(InvalidInputError, match="32 bytes"):
        db.insert_visitseq("completed", {**row, "visitseq_sha256": b"short"})
    with pytest.raises(InvalidInputError, match="time zone"):
        db.insert_visitseq("completed", {**row, "creation_time": dt.datetime(2025, 1, 1)})
    with pytest.raises(InvalidInputError, match="first_day_obs"):
        db.insert_visitseq("completed", {**row, "first_day_obs": "2025-13-01"})
    taken = _completed(db)
    with pytest.raises(InvalidInputError, match="cannot add"):
        db.insert_visitseq("completed", {**row, "visitseq_uuid": taken})


def test_unknown_uuid(db: MetadataDatabase) -> None:
    missing = uuid.uuid4()
    for call in (
        lambda: db.get_metadata(missing),
        lambda: db.get_visitseq_url(missing),
        lambda: db.update_metadata(missing, "visitseq_label", "x"),
        lambda: db.tag(missing, "a"),
        lambda: db.comment(missing, "hello"),
        lambda: db.register_file(missing, "rewards", digest("r"), "file:///r.h5"),
        lambda: db.simulation_metadata(missing),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(InvalidInputError):
        db.get_metadata("not-a-uuid")


def test_update_metadata(db: MetadataDatabase) -> None:
    seq = _completed(db)
    db.update_metadata(seq, "query", "SELECT 1")
    db.update_metadata(seq, "visitseq_sha256", digest("b").hex())
    db.update_metadata(seq, "last_day_obs", "20251209")
    row = db.get_metadata(seq)
    assert (row["query"], row["visitseq_sha256"], row["last_day_obs"]) == (
        "SELECT 1",
        digest("b"),
        dt.date(2025, 12, 9),
    )
    with pytest.raises(InvalidInputError, match="scheduler_version"):
        db.update_metadata(seq, "scheduler_version", "1")  # a simulations column, not completed
    with pytest.raises(InvalidInputError):
        db.update_metadata(seq, "visitseq_uuid", uuid.uuid4())
    with pytest.raises(InvalidInputError):
        db.update_metadata(seq, "visitseq_label; DROP TABLE tags", "x")
    with pytest.raises(InvalidInputError, match="cannot be empty"):
        db.update_metadata(seq, "visitseq_label", None)


def test_visitseq_url(db: MetadataDatabase) -> None:
    seq = _completed(db)
    assert db.get_visitseq_url(seq) is None
    db.set_visitseq_url(seq, "s3://bucket/visits.h5")
    assert db.get_visitseq_url(seq) == "s3://bucket/visits.h5"


def test_tags(db: MetadataDatabase) -> None:
    seq = _completed(db)
    db.tag(seq, "nominal", "ideal", "nominal")
    db.tag(seq, "ideal")
    assert db.get_tags(seq) == ["ideal", "nominal"]
    assert db.is_tagged(seq, "ideal") and not db.is_tagged(seq, "prenight")
    db.untag(seq, "ideal")
    assert db.get_tags(seq) == ["nominal"]
    assert db.get_tags(uuid.uuid4()) == []
    with pytest.raises(InvalidInputError):
        db.tag(seq, "")


def test_concurrent_tagging_keeps_one_row(db: MetadataDatabase) -> None:
    seq = _completed(db)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def tag_it() -> None:
        try:
            barrier.wait()
            for _ in range(20):
                db.tag(seq, "race")
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=tag_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.transaction() as conn:
        count = conn.exec_driver_sql(f"SELECT COUNT(*) FROM tags WHERE visitseq_uuid = '{seq}'").scalar()
    assert count == 1


def test_comments(db: MetadataDatabase) -> None:
    seq = _completed(db)
    assert db.get_comments(seq).empty
    assert list(db.get_comments(seq).columns) == ["comment_time", "author", "comment"]
    db.comment(seq, "first", author="alice")
    db.comment(seq, "second")
    comments = db.get_comments(seq)
    assert list(comments["comment"]) == ["first", "second"]
    assert comments["author"].iloc[0] == "alice" and pd.isna(comments["author"].iloc[1])


def test_files(db: MetadataDatabase) -> None:
    seq = _completed(db)
    db.register_file(seq, "rewards", digest("r"), "file:///a/rewards.h5")
    assert db.get_file(seq, "rewards") == ("file:///a/rewards.h5", digest("r"))
    with pytest.raises(InvalidInputError, match="update=True"):
        db.register_file(seq, "rewards", digest("r2"), "file:///b/rewards.h5")
    db.register_file(seq, "rewards", digest("r2").hex(), "file:///b/rewards.h5", update=True)
    db.register_file(seq, "opsim.db", digest("o"), None)
    assert db.get_files(seq) == {
        "opsim.db": (None, digest("o")),
        "rewards": ("file:///b/rewards.h5", digest("r2")),
    }
    with pytest.raises(InvalidInputError, match="visitseq_url"):
        db.register_file(seq, "visits", digest("v"), "file:///v.h5")
    with pytest.raises(NotFoundError):
        db.get_file(seq, "scheduler")


def test_nightly_stats(db: MetadataDatabase) -> None:
    seq = _completed(db)
    stats = pd.DataFrame(
        {
            "day_obs": ["2025-12-08", "2025-12-08"],
            "value_name": ["airmass", "seeing"],
            "count": [10, 10],
            "mean": [1.2, float("nan")],
            "max": [1.9, 1.1],
        }
    )
    assert db.insert_nightly_stats(seq, stats) == 2
    stored = db.query_nightly_stats(seq)
    assert list(stored.columns[:4]) == ["visitseq_uuid", "day_obs", "value_name", "accumulated"]
    assert list(stored["value_name"]) == ["airmass", "seeing"]
    assert stored["accumulated"].tolist() == [False, False]
    assert stored["day_obs"].iloc[0] == dt.date(2025, 12, 8)
    assert pd.isna(stored["mean"].iloc[1]) and stored["max"].iloc[1] == 1.1
    # Writing again replaces (upsert); accumulated rows live in their own table, out of sight of
    # the reference's readers of nightly_stats, and come back only when asked for.
    again = stats.assign(mean=[1.5, 0.7], accumulated=[False, True])
    db.insert_nightly_stats(seq, again)
    assert len(db.query_nightly_stats(seq)) == 2
    with db.transaction() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM nightly_stats WHERE accumulated").scalar() == 0
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM accumulated_stats").scalar() == 1
    stored = db.query_nightly_stats(seq, include_accumulated=True)
    assert len(stored) == 3 and stored["accumulated"].tolist() == [False, False, True]
    means = stored.set_index(["value_name", "accumulated"])["mean"]
    assert means[("airmass", False)] == 1.5 and means[("seeing", True)] == 0.7
    assert pd.isna(means[("seeing", False)])
    # The same key twice in one frame: the last row given wins (one multi-row INSERT must not
    # affect a row twice).
    twice = pd.DataFrame({"day_obs": ["2025-12-09"] * 2, "value_name": ["airmass"] * 2, "mean": [1.0, 2.0]})
    assert db.insert_nightly_stats(seq, twice) == 1
    stored = db.query_nightly_stats(seq)
    assert stored.loc[stored["day_obs"] == dt.date(2025, 12, 9), "mean"].tolist() == [2.0]
    with pytest.raises(InvalidInputError, match="no column"):
        db.insert_nightly_stats(seq, stats.assign(bogus=1))


def test_record_conda_env(db: MetadataDatabase) -> None:
    """The key is the SHA-256 of the exact text given (the reference's), and the text is stored
    as given: another spelling of the same list is another key, as in the reference."""
    packages = [
        {"name": "numpy", "version": "2.1.0", "channel": "conda-forge", "build_number": 0},
        {"name": "astropy", "version": "7.0", "channel": "conda-forge", "build_number": 1},
    ]
    text = json.dumps(packages, indent=1)
    env_hash = db.record_conda_env(text)
    assert env_hash == hashlib.sha256(text.encode()).digest()
    assert db.record_conda_env(text.encode()) == env_hash  # bytes as read: the same key
    assert db.conda_env_is_saved(env_hash) and db.conda_env_is_saved(env_hash.hex())
    other = db.record_conda_env(json.dumps(list(reversed(packages))))
    assert other != env_hash
    with db.transaction() as conn:
        rows = conn.exec_driver_sql(
            "SELECT package_name, package_version FROM conda_packages WHERE conda_env_hash = %s", (env_hash,)
        ).all()
        stored = conn.exec_driver_sql(
            "SELECT conda_env FROM conda_env WHERE conda_env_hash = %s", (env_hash,)
        ).scalar()
    assert sorted(rows) == [("astropy", "7.0"), ("numpy", "2.1.0")]
    assert stored == packages
    for bad in ("not json", "{}", "[1, 2]", b"\xff"):
        with pytest.raises(InvalidInputError, match="conda list --json"):
            db.record_conda_env(bad)


def test_transaction_rolls_back_everything(db: MetadataDatabase) -> None:
    with pytest.raises(RuntimeError), db.transaction() as conn:
        seq = db.insert_visitseq(
            "completed",
            {"visitseq_sha256": digest("t"), "visitseq_label": "t", "telescope": "simonyi"},
            conn=conn,
        )
        db.tag(seq, "x", conn=conn)
        db.register_file(seq, "rewards", digest("r"), "file:///r", conn=conn)
        raise RuntimeError("store failed")
    with pytest.raises(NotFoundError):
        db.get_metadata(seq)
    assert db.get_tags(seq) == [] and db.get_files(seq) == {}


def test_search(db: MetadataDatabase) -> None:
    now = dt.datetime(2025, 12, 9, tzinfo=dt.UTC)
    old = _completed(db, visitseq_label="100%_done", creation_time=now - dt.timedelta(days=10))
    new = db.insert_visitseq(
        "simulations",
        {
            "visitseq_sha256": digest("s"),
            "visitseq_label": "100 percent done",
            "telescope": "auxtel",
            "first_day_obs": "2025-12-09",
            "last_day_obs": "2025-12-11",
            "creation_time": now,
        },
    )
    db.tag(new, "ideal")
    everything = db.search()
    assert list(everything.columns)[:2] == ["visitseq_uuid", "table"]
    assert list(everything["visitseq_uuid"]) == [old, new]
    assert list(everything["table"]) == ["completed", "simulations"]
    assert everything["tags"].tolist() == [[], ["ideal"]]
    assert list(db.search(label="100%_")["visitseq_uuid"]) == [old]  # % and _ are literal
    assert list(db.search(label="PERCENT")["visitseq_uuid"]) == [new]
    assert list(db.search(table="simulations")["visitseq_uuid"]) == [new]
    assert list(db.search(telescope="auxtel", day_obs="20251210", tags=["ideal"])["visitseq_uuid"]) == [new]
    assert db.search(day_obs="2025-12-08").empty
    assert list(db.search(first_day_obs="2025-12-01", last_day_obs="2025-12-09")["visitseq_uuid"]) == [new]
    assert list(db.search(max_age=1, now=now)["visitseq_uuid"]) == [new]
    assert len(db.search(limit=1)) == 1


def test_search_statements_are_reused_with_other_values(db: MetadataDatabase) -> None:
    """A search's SQL is built once per shape (which criteria are given): asking the same shape
    with other values must answer for those values, not for the first call's."""
    nights = {"simonyi": "2025-12-08", "auxtel": "2025-12-09"}
    made = {
        telescope: _completed(
            db,
            telescope=telescope,
            first_day_obs=night,
            last_day_obs=night,
            visitseq_label=f"{telescope} night",
        )
        for telescope, night in nights.items()
    }
    db.tag(made["simonyi"], "ideal")
    db.tag(made["auxtel"], "nominal")
    for _ in range(2):
        for telescope, night in nights.items():
            found = db.search(telescope=telescope, day_obs=night, table="completed")
            assert list(found["visitseq_uuid"]) == [made[telescope]]
            assert db.search(telescope=telescope, day_obs="2025-12-10", table="completed").empty
            assert list(db.search(label=f"{telescope} NIGHT")["visitseq_uuid"]) == [made[telescope]]
        assert list(db.search(tags=["ideal"])["visitseq_uuid"]) == [made["simonyi"]]
        assert list(db.search(tags=["nominal"])["visitseq_uuid"]) == [made["auxtel"]]
        assert len(db.search(limit=1)) == 1 and len(db.search(limit=2)) == 2
