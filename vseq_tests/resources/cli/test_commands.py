"""Every ``vseqarchive`` command, in-process, against real PostgreSQL and both store kinds."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
import uuid
from pathlib import Path

import pandas as pd
import pytest

from vseq_resources.cli import cli
from vseq_resources.visits import read_visits_h5, visits_content_hash

from .conftest import Vseq
from .support import make_opsim_db, opsim_visits


def tsv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def record(vseq: Vseq, opsim: Path, *extra: str, table: str = "simulations", label: str = "test sim") -> str:
    out = vseq.out("record-visitseq-metadata", table, str(opsim), label, *extra)
    return str(uuid.UUID(out))


def test_record_and_get_metadata(cli_env: Vseq, opsim_db: Path) -> None:
    sim = record(
        cli_env,
        opsim_db,
        "--telescope",
        "auxtel",
        "--first_day_obs",
        "20260411",
        "--last_day_obs",
        "2026-04-13",
        "--creation_time",
        "2026-04-11T18:00:00",
    )
    rows = tsv(cli_env.out("get-visitseq-metadata", sim))
    assert len(rows) == 1
    row = rows[0]
    assert row["visitseq_uuid"] == sim
    assert row["telescope"] == "auxtel"
    assert row["visitseq_label"] == "test sim"
    assert row["first_day_obs"] == "2026-04-11"
    assert row["last_day_obs"] == "2026-04-13"
    assert row["creation_time"].startswith("2026-04-11 18:00:00")
    visits = opsim_visits(("2026-04-11", "2026-04-12"))
    assert row["visitseq_sha256"] == visits_content_hash(visits).hex()
    assert row["visitseq_url"] == ""
    assert list(row) == [  # the reference's default table: visitseq, 8 columns
        "visitseq_uuid",
        "visitseq_sha256",
        "visitseq_label",
        "visitseq_url",
        "telescope",
        "first_day_obs",
        "last_day_obs",
        "creation_time",
    ]
    own = tsv(cli_env.out("get-visitseq-metadata", sim, "--table", "simulations"))[0]
    assert "scheduler_version" in own
    extra = tsv(cli_env.out("get-visitseq-metadata", sim, "--table", "simulations_extra"))[0]
    assert extra["daily_id"] == "1" and extra["tags"] == "[]"
    # Nights come from the visits when not given.
    other = record(cli_env, opsim_db, table="completed", label="completed visits")
    row = tsv(cli_env.out("get-visitseq-metadata", other))[0]
    assert (row["first_day_obs"], row["last_day_obs"]) == ("2026-04-11", "2026-04-12")


def test_record_from_h5(cli_env: Vseq, tmp_path: Path) -> None:
    from vseq_resources.visits import write_visits_h5

    visits = opsim_visits(("2026-04-11",), per_night=5)
    h5 = write_visits_h5(tmp_path / "visits.h5", visits)
    sim = record(cli_env, h5)
    row = tsv(cli_env.out("get-visitseq-metadata", sim))[0]
    assert row["visitseq_sha256"] == visits_content_hash(visits).hex()


def test_urls_and_updates(cli_env: Vseq, opsim_db: Path) -> None:
    sim = record(cli_env, opsim_db)
    assert cli_env.out("get-visitseq-url", sim) == ""
    assert cli_env.out("set-visitseq-url", sim, "s3://elsewhere/visits.h5") == ""
    assert cli_env.out("get-visitseq-url", sim) == "s3://elsewhere/visits.h5"
    parent = record(cli_env, opsim_db, table="completed")
    digest = "ab" * 32
    cli_env("update-visitseq-metadata", sim, "scheduler_version", "4.6.0")
    cli_env(
        "update-visitseq-metadata", sim, "config_url", "https://github.com/lsst-ts/ts_config_ocs/tree/abc"
    )
    cli_env("update-visitseq-metadata", sim, "parent_visitseq_uuid", parent)
    cli_env("update-visitseq-metadata", sim, "conda_env_sha256", digest)
    cli_env("update-visitseq-metadata", sim, "parent_last_day_obs", "20260410")
    cli_env("update-visitseq-metadata", sim, "sim_runner_kwargs", '{"n_nights": 2}')
    row = tsv(cli_env.out("get-visitseq-metadata", sim, "--table", "simulations"))[0]
    assert row["scheduler_version"] == "4.6.0"
    assert row["config_url"].endswith("/abc")
    assert row["parent_visitseq_uuid"] == parent
    assert row["conda_env_sha256"] == digest
    assert row["parent_last_day_obs"] == "2026-04-10"
    assert json.loads(row["sim_runner_kwargs"]) == {"n_nights": 2}


def test_tags_and_comments(cli_env: Vseq, opsim_db: Path) -> None:
    sim = record(cli_env, opsim_db)
    assert cli_env.out("is-tagged", sim, "prenight") == "false"
    assert cli_env.out("tag", sim, "prenight", "ideal", "nominal") == ""
    cli_env("tag", sim, "prenight")  # again: kept once
    assert cli_env.out("is-tagged", sim, "prenight") == "true"
    cli_env("untag", sim, "ideal")
    assert cli_env.out("is-tagged", sim, "ideal") == "false"
    assert cli_env.out("get-comments", sim) == ""
    cli_env("comment", sim, "looks fine", "--author", "eric")
    cli_env("comment", sim, "tab\tand newline\nin it")
    rows = tsv(cli_env.out("get-comments", sim))
    assert [r["comment"] for r in rows] == ["looks fine", "tab\tand newline\nin it"]
    assert list(rows[0]) == ["visitseq_uuid", "comment_time", "author", "comment"]
    assert rows[0]["author"] == "eric" and rows[1]["author"] == ""
    assert rows[0]["visitseq_uuid"] == sim


def test_archive_and_get_files(cli_env: Vseq, opsim_db: Path, rewards_h5: Path, tmp_path: Path) -> None:
    sim = record(cli_env, opsim_db)
    url = cli_env.out("archive-file", sim, str(opsim_db), "visits")
    assert url.startswith(cli_env.store) and url.endswith(f"/{sim}/visits.h5")
    assert cli_env.out("get-visitseq-url", sim) == url
    rewards_url = cli_env.out(
        "archive-file", sim, str(rewards_h5), "rewards", "--archive-base", cli_env.store
    )
    assert rewards_url.endswith(f"/{sim}/rewards.h5")
    # Registering the same type again needs --update.
    again = cli_env("archive-file", sim, str(rewards_h5), "rewards", ok=False)
    assert again.exit_code == 1 and "rewards" in again.stderr
    assert cli_env.out("archive-file", sim, str(rewards_h5), "rewards", "--update") == rewards_url

    h5 = tmp_path / "out" / "visits.h5"
    h5.parent.mkdir()
    out = cli_env.out("get-file", sim, "visits", str(h5))
    assert url in out
    with pd.HDFStore(h5, mode="r") as stored:
        every = {k.lstrip("/") for k in stored.keys()}
    assert every == {"observations", "info"}
    original = pd.read_sql("SELECT * FROM observations", sqlite3.connect(opsim_db))
    pd.testing.assert_frame_equal(pd.read_hdf(h5, key="observations"), original)

    db = tmp_path / "out" / "back.db"
    out = cli_env.out("get-file", sim, "visits", str(db))
    copied, converted = out.splitlines()  # the reference's two lines
    assert re.fullmatch(f"Copied {re.escape(url)} to file:///.+/visits.h5", copied)
    assert converted == f"Converted to opsim and wrote to {db}"
    with sqlite3.connect(db) as conn:
        back = pd.read_sql("SELECT * FROM observations", conn)
        info = pd.read_sql("SELECT * FROM info", conn)
    pd.testing.assert_frame_equal(back, original)
    assert list(info.columns) == ["Parameter", "Value"]

    # A directory destination keeps the stored name.
    cli_env("get-file", sim, "rewards", str(tmp_path / "out"))
    assert (tmp_path / "out" / "rewards.h5").read_bytes() == rewards_h5.read_bytes()


def test_get_visits_formats(cli_env: Vseq, opsim_db: Path, tmp_path: Path) -> None:
    sim = record(cli_env, opsim_db)
    cli_env("archive-file", sim, str(opsim_db), "visits")
    everything = opsim_visits(("2026-04-11", "2026-04-12"))
    for name in ("v.h5", "v.db", "v.csv", "v.parquet"):
        out = cli_env.out("get-visits", sim, str(tmp_path / name))
        assert out == f"Wrote {len(everything)} visits to {tmp_path / name}"
    assert len(read_visits_h5(tmp_path / "v.h5")) == len(everything)
    with sqlite3.connect(tmp_path / "v.db") as conn:
        assert len(pd.read_sql("SELECT * FROM observations", conn)) == len(everything)
    assert len(pd.read_csv(tmp_path / "v.csv")) == len(everything)
    parquet = pd.read_parquet(tmp_path / "v.parquet")
    assert list(parquet.columns) == list(everything.columns)
    out = cli_env.out("get-visits", sim, str(tmp_path / "night.csv"), "--night", "20260412")
    assert out.startswith("Wrote 40 visits")
    bad = cli_env("get-visits", sim, str(tmp_path / "v.txt"), ok=False)
    assert bad.exit_code == 1 and "format" in bad.stderr
    assert not (tmp_path / "v.txt").exists()


def test_nightly_stats(cli_env: Vseq, opsim_db: Path, tmp_path: Path) -> None:
    sim = record(cli_env, opsim_db)
    assert cli_env("query-nightly-stats", sim).stdout == "\n"  # the reference's empty line
    output = cli_env.out("add-nightly-stats", sim, str(opsim_db), "azimuth", "altitude")
    printed = tsv(output)
    # The reference's columns and order: night by night, values in the order asked for.
    assert output.splitlines()[0].split("\t") == [
        "day_obs", "value_name", "count", "mean", "std", "min", "p05", "q1", "median", "q3", "p95", "max",
        "accumulated",
    ]  # fmt: skip
    assert [(r["day_obs"], r["value_name"]) for r in printed] == [
        ("2026-04-11", "azimuth"),
        ("2026-04-11", "altitude"),
        ("2026-04-12", "azimuth"),
        ("2026-04-12", "altitude"),
    ]
    assert {r["count"] for r in printed} == {"40.0"} and {r["accumulated"] for r in printed} == {"False"}
    stored = tsv(cli_env.out("query-nightly-stats", sim))
    assert [(r["day_obs"], r["value_name"], r["count"]) for r in stored] == [
        (r["day_obs"], r["value_name"], "40") for r in printed
    ]  # insertion order, integer counts: as the reference prints them
    # Default columns, computed again, replace rather than duplicate.
    cli_env("add-nightly-stats", sim, str(opsim_db))
    assert len(tsv(cli_env.out("query-nightly-stats", sim))) == len(stored)


def test_nightly_stats_of_an_empty_simulation(cli_env: Vseq, tmp_path: Path) -> None:
    """A batch under ``set -e`` must not stop on an empty simulation: exit 0, nothing stored."""
    empty = make_opsim_db(tmp_path / "empty.db", per_night=0)
    sim = record(cli_env, make_opsim_db(tmp_path / "one.db"))
    result = cli_env("add-nightly-stats", sim, str(empty))
    assert (
        result.stdout
        == "day_obs\tvalue_name\tcount\tmean\tstd\tmin\tp05\tq1\tmedian\tq3\tp95\tmax\taccumulated\n"
    )
    assert cli_env("query-nightly-stats", sim).stdout == "\n"


def test_record_conda_env(cli_env: Vseq, tmp_path: Path) -> None:
    digest = cli_env.out("record-conda-env")
    assert len(bytes.fromhex(digest)) == 32
    assert cli_env.out("record-conda-env") == digest
    listing = tmp_path / "conda.json"
    listing.write_bytes(b'[\n  {"name": "numpy", "version": "2.1.0"}\n]\n')
    expected = hashlib.sha256(listing.read_bytes()).hexdigest()
    assert cli_env.out("record-conda-env", "--from", str(listing)) == expected
    piped = cli_env.runner.invoke(
        cli, ["record-conda-env", "--from", "-"], input=listing.read_bytes(), env=cli_env.env
    )
    assert piped.exit_code == 0 and piped.stdout.strip() == expected
    listing.write_text("not json")
    bad = cli_env("record-conda-env", "--from", str(listing), ok=False)
    assert bad.exit_code == 1 and "conda list --json" in bad.stderr


def test_show_and_search(cli_env: Vseq, opsim_db: Path, tmp_path: Path) -> None:
    sim = record(cli_env, opsim_db, "--telescope", "simonyi", label="Nominal prenight")
    cli_env("tag", sim, "prenight", "nominal")
    cli_env("comment", sim, "first look", "--author", "me")
    cli_env("archive-file", sim, str(opsim_db), "visits")
    cli_env("add-nightly-stats", sim, str(opsim_db), "airmass")
    other_db = make_opsim_db(tmp_path / "other.db", nights=("2026-05-01",))
    other = record(cli_env, other_db, "--telescope", "auxtel", table="completed", label="Completed auxtel")

    shown = cli_env.out("show", sim)
    for text in (sim, "Nominal prenight", "nominal prenight", "first look", "visits.h5", "airmass"):
        assert text in shown

    table = cli_env.out("search")
    assert sim in table and other in table and "kind" in table.splitlines()[0]
    found = json.loads(cli_env.out("search", "--json", "--telescope", "simonyi"))
    assert [r["visitseq_uuid"] for r in found] == [sim]
    assert found[0]["tags"] == ["nominal", "prenight"]
    assert json.loads(cli_env.out("search", "--json", "--night", "2026-05-01"))[0]["visitseq_uuid"] == other
    assert [r["visitseq_uuid"] for r in json.loads(cli_env.out("search", "--json", "--tag", "prenight"))] == [
        sim
    ]
    assert [
        r["visitseq_uuid"] for r in json.loads(cli_env.out("search", "--json", "--kind", "completed"))
    ] == [other]
    ranged = json.loads(cli_env.out("search", "--json", "--from", "20260412", "--to", "20260420"))
    assert [r["visitseq_uuid"] for r in ranged] == [sim]
    assert [r["visitseq_uuid"] for r in json.loads(cli_env.out("search", "--json", "--label", "AUXTEL"))] == [
        other
    ]
    assert len(json.loads(cli_env.out("search", "--json", "--max-age", "1"))) == 2
    assert len(json.loads(cli_env.out("search", "--json", "--limit", "1"))) == 1
    empty = cli_env("search", "--tag", "nothing")
    assert empty.stdout == "" and "no matching" in empty.stderr


def test_make_prenight_index(cli_env: Vseq, opsim_db: Path) -> None:
    from vseq_resources.prenight_index import read_prenight_index

    sim = record(cli_env, opsim_db, "--first_day_obs", "2026-04-11", "--last_day_obs", "2026-04-12")
    cli_env("tag", sim, "prenight", "ideal", "nominal")
    url = cli_env.out("make-prenight-index", "20260411", "simonyi")
    assert url == f"{cli_env.index}simonyi/2026/4/simonyi_prenights_for_2026-04-11.json"
    index = read_prenight_index(cli_env.index, "2026-04-11", "simonyi")
    assert list(index.index) == [sim]
    empty = cli_env.out("make-prenight-index", "2026-04-20", "simonyi")
    assert read_prenight_index(cli_env.index, "2026-04-20", "simonyi").empty
    assert empty.endswith("simonyi_prenights_for_2026-04-20.json")


@pytest.mark.parametrize("extension", [".db", ".sqlite3"])
def test_archive_file_converts_every_opsim_suffix(cli_env: Vseq, tmp_path: Path, extension: str) -> None:
    db = make_opsim_db(tmp_path / f"sim{extension}", per_night=3)
    sim = record(cli_env, db)
    url = cli_env.out("archive-file", sim, str(db), "visits")
    assert url.endswith("/visits.h5")
