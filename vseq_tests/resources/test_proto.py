"""Import from and export to the prototype simulation archive, on file:// and s3://."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from lsst.resources import ResourcePath

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.errors import IntegrityError, InvalidInputError, NotFoundError
from vseq_resources.proto import export_proto, import_proto, simulated_dates
from vseq_resources.store import ArchiveStore
from vseq_resources.visits import read_visits_h5, visits_content_hash
from vseq_tests.resources.cli.support import make_opsim_db, make_rewards_h5, opsim_visits

NIGHTS = ("2026-03-11", "2026-03-12")


@pytest.fixture
def archive_store(store_base: str) -> str:
    """Both store kinds."""
    return store_base


@pytest.fixture
def proto_base(store_base: str) -> str:
    return store_base.rstrip("/").rsplit("/", 1)[0] + "/proto/"


def write_proto_sim(
    base: str,
    tmp_path: Path,
    date: str = "2026-03-12",
    index: int = 1,
    date_key: str = "simulated_dates",
    **overrides,
) -> str:  # noqa: ANN003
    """A prototype entry as rubin_sim's prototype archive wrote it."""
    opsim = make_opsim_db(tmp_path / f"opsim_{index}.db", nights=NIGHTS, per_night=12, seed=index)
    rewards = make_rewards_h5(tmp_path / f"rewards_{index}.h5")
    directory = ResourcePath(base, forceDirectory=True).join(f"{date}/{index}/", forceDirectory=True)
    files = {}
    for file_type, path, name in (("observations", opsim, "opsim.db"), ("rewards", rewards, "rewards.h5")):
        data = path.read_bytes()
        directory.join(name).write(data, overwrite=True)
        files[file_type] = {"name": name, "md5": hashlib.md5(data).hexdigest()}
    metadata = {
        "label": "Nominal prenight, run at 2026-03-12T14:05:00",
        date_key: {"first": NIGHTS[0], "last": NIGHTS[1]},
        "scheduler_version": "3.18.1",
        "sim_runner_kwargs": {"mjd_start": 61110.5, "survey_length": 2.0, "record_rewards": True},
        "tags": ["prenight", "ideal", "nominal"],
        "telescope": "simonyi",
        "host": "sdfmilan001",
        "username": "neilsen",
        "files": files,
    }
    metadata.update(overrides)
    directory.join("sim_metadata.yaml").write(yaml.safe_dump(metadata).encode(), overwrite=True)
    return str(directory)


def test_import(archive: VisitSequenceArchive, proto_base: str, tmp_path: Path) -> None:
    source = write_proto_sim(proto_base, tmp_path)
    recorded = import_proto(archive, "20260312", "1", proto_base)
    md = archive.metadata
    row = md.simulation_metadata(recorded.uuid)
    assert row["visitseq_label"] == "Nominal prenight, run at 2026-03-12T14:05:00"
    assert str(row["first_day_obs"]) == NIGHTS[0] and str(row["last_day_obs"]) == NIGHTS[1]
    assert row["scheduler_version"] == "3.18.1"
    assert row["sim_runner_kwargs"]["survey_length"] == 2.0
    assert row["creation_time"] == dt.datetime(2026, 3, 12, 14, 5, tzinfo=dt.UTC)
    assert row["tags"] == ["from_prototype_sim_archive", "ideal", "nominal", "prenight"]
    (comment,) = row["comments"].values()
    assert "2026-03-12, 1" in comment and source in comment and "neilsen@sdfmilan001" in comment
    assert set(row["files"]) == {"rewards", "sim_metadata"}
    assert row["files"]["rewards"].startswith(archive.store.base.geturl())
    visits = read_visits_h5(row["visitseq_url"])
    expected = opsim_visits(NIGHTS, per_night=12, seed=1)
    pd.testing.assert_frame_equal(visits, expected)
    assert md.get_metadata(recorded.uuid)["visitseq_sha256"] == visits_content_hash(expected)
    assert read_visits_h5(row["visitseq_url"], key="info").shape[0] == 2  # every opsim table kept
    assert len(md.query_nightly_stats(recorded.uuid)) > 0


def test_import_reads_the_exporters_date_key(
    archive: VisitSequenceArchive, proto_base: str, tmp_path: Path
) -> None:
    write_proto_sim(proto_base, tmp_path, date_key="simulation_dates", label=None)
    recorded = import_proto(archive, "2026-03-12", 1, proto_base)
    assert (str(recorded.first_day_obs), str(recorded.last_day_obs)) == NIGHTS
    assert recorded.label == "2026-03-12/1 of 2026-03-11 through 2026-03-12 with 3.18.1"
    # No time in the metadata or label: the start of the day it was added.
    assert recorded.creation_time == dt.datetime(2026, 3, 12, tzinfo=dt.UTC)
    assert simulated_dates({"simulation_dates": {"first": dt.date(2026, 1, 2), "last": "20260103"}}) == (
        dt.date(2026, 1, 2),
        dt.date(2026, 1, 3),
    )


def test_import_failures_write_nothing(
    archive: VisitSequenceArchive, proto_base: str, tmp_path: Path
) -> None:
    write_proto_sim(proto_base, tmp_path, files={"observations": {"name": "opsim.db", "md5": "0" * 32}})
    with pytest.raises(IntegrityError, match="md5"):
        import_proto(archive, "2026-03-12", 1, proto_base)
    with pytest.raises(NotFoundError, match="2026-03-12/2"):
        import_proto(archive, "2026-03-12", 2, proto_base)
    with pytest.raises(InvalidInputError):
        import_proto(archive, "2026-03-12", 0, proto_base)
    write_proto_sim(proto_base, tmp_path, index=3, files={"rewards": {"name": "rewards.h5"}})
    with pytest.raises(InvalidInputError, match="observations"):
        import_proto(archive, "2026-03-12", 3, proto_base)
    assert list(ArchiveStore(str(archive.store.base)).walk_files()) == []
    assert len(archive.metadata.search()) == 0


def test_export_and_round_trip(archive: VisitSequenceArchive, proto_base: str, tmp_path: Path) -> None:
    write_proto_sim(proto_base, tmp_path)
    original = import_proto(archive, "2026-03-12", 1, proto_base)
    archive.metadata.update_metadata(original.uuid, "config_url", "https://example.org/config.py")
    today = dt.date(2026, 3, 14)
    first = export_proto(archive, original.uuid, proto_base, today=today)
    second = export_proto(archive, original.uuid, proto_base, today=today)
    assert first == f"{proto_base}2026-03-14/1/" and second == f"{proto_base}2026-03-14/2/"

    document = yaml.safe_load(ResourcePath(first).join("sim_metadata.yaml").read())
    assert "simulation_dates" not in document
    assert document["simulated_dates"] == {"first": NIGHTS[0], "last": NIGHTS[1]}
    assert document["label"] == original.label and document["uuid"] == str(original.uuid)
    assert document["scheduler_version"] == "3.18.1" and document["telescope"] == "simonyi"
    assert "from_prototype_sim_archive" in document["tags"]
    assert set(document["files"]) == {"observations", "rewards"}
    for info in document["files"].values():
        data = ResourcePath(first).join(info["name"]).read()
        assert hashlib.md5(data).hexdigest() == info["md5"]
    opsim = tmp_path / "exported.db"
    opsim.write_bytes(ResourcePath(first).join("opsim.db").read())
    with sqlite3.connect(opsim) as conn:
        exported = pd.read_sql("SELECT * FROM observations", conn)
    pd.testing.assert_frame_equal(exported, opsim_visits(NIGHTS, per_night=12, seed=1))

    again = import_proto(archive, "2026-03-14", 1, proto_base)
    assert (again.first_day_obs, again.last_day_obs) == (original.first_day_obs, original.last_day_obs)
    assert again.visitseq_sha256 == original.visitseq_sha256
    assert again.creation_time == original.creation_time
    assert again.label == original.label


def test_cli_commands(
    archive: VisitSequenceArchive,
    proto_base: str,
    tmp_path: Path,
    pg_url: str,
    db_schema: str,
    store_base: str,
) -> None:
    from vseq_resources.cli import cli

    write_proto_sim(proto_base, tmp_path)
    env = {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": db_schema,
        "VSEQ_ARCHIVE_URI": store_base,
        "VSEQ_STATE_DIR": str(tmp_path / "state"),
        "VSARCHIVE_PGHOST": None,
        "VSARCHIVE_PGDATABASE": None,
        "VSARCHIVE_PGUSER": None,
        "VSARCHIVE_PGPORT": None,
    }
    runner = CliRunner()
    other_store = store_base.rstrip("/").rsplit("/", 1)[0] + "/other/"
    imported = runner.invoke(
        cli, ["import-proto", other_store, "20260312", "1", "--proto-sim-archive-url", proto_base], env=env
    )
    assert imported.exit_code == 0, imported.stderr
    sim = imported.stdout.strip()
    assert archive.metadata.get_visitseq_url(sim).startswith(other_store)
    exported = runner.invoke(cli, ["export-proto", sim, "--proto-sim-archive-url", proto_base], env=env)
    assert exported.exit_code == 0, exported.stderr
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert exported.stdout.strip() == f"{proto_base}{today}/1/"
    missing = runner.invoke(
        cli, ["import-proto", store_base, "20260312", "9", "--proto-sim-archive-url", proto_base], env=env
    )
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1
