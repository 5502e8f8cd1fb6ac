"""Failures end with one clear line on stderr, a non-zero exit, and nothing written."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from vseq_resources.store import ArchiveStore

from .conftest import Vseq


def store_files(vseq: Vseq) -> list[str]:
    return sorted(entry.url for entry in ArchiveStore(vseq.store).walk_files())


def sequence_count(vseq: Vseq) -> int:
    import json

    return len(json.loads(vseq.out("search", "--json", "--limit", "0")))


def assert_one_line_error(result, *words: str, status: int = 1) -> None:  # noqa: ANN001
    assert result.exit_code == status, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vseqarchive: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    assert result.stdout == ""


@pytest.fixture
def sim(cli_env: Vseq, opsim_db: Path) -> str:
    return cli_env.out("record-visitseq-metadata", "simulations", str(opsim_db), "a sim")


def test_unknown_and_malformed_uuid(cli_env: Vseq, sim: str) -> None:
    unknown = str(uuid.uuid4())
    for args in (
        ("get-visitseq-metadata", unknown),
        ("get-visitseq-url", unknown),
        ("set-visitseq-url", unknown, "file:///x"),
        ("update-visitseq-metadata", unknown, "scheduler_version", "1"),
        ("tag", unknown, "prenight"),
        ("is-tagged", unknown, "prenight"),
        ("untag", unknown, "prenight"),
        ("comment", unknown, "hello"),
        ("get-comments", unknown),
        ("query-nightly-stats", unknown),
        ("show", unknown),
        ("get-file", unknown, "visits", str(cli_env.workdir / "x.h5")),
        ("export-proto", unknown, "--proto-sim-archive-url", (cli_env.workdir / "proto").as_uri()),
    ):
        assert_one_line_error(cli_env(*args, ok=False), unknown)
    assert_one_line_error(cli_env("tag", "not-a-uuid", "x", ok=False), "not-a-uuid")
    assert not (cli_env.workdir / "x.h5").exists()
    assert not (cli_env.workdir / "proto").exists()


def test_missing_files(cli_env: Vseq, sim: str, opsim_db: Path) -> None:
    before = sequence_count(cli_env)
    missing = str(cli_env.workdir / "nope.db")
    assert_one_line_error(
        cli_env("record-visitseq-metadata", "simulations", missing, "x", ok=False), "nope.db"
    )
    assert_one_line_error(cli_env("archive-file", sim, missing, "visits", ok=False), "nope.db")
    assert_one_line_error(cli_env("archive-file", sim, missing, "rewards", ok=False), "nope.db")
    assert_one_line_error(cli_env("add-nightly-stats", sim, missing, ok=False), "nope.db")
    # Files the sequence does not have.
    assert_one_line_error(
        cli_env("get-file", sim, "rewards", str(cli_env.workdir / "r.h5"), ok=False), "rewards"
    )
    assert_one_line_error(
        cli_env("get-file", sim, "visits", str(cli_env.workdir / "v.h5"), ok=False), "visits"
    )
    assert_one_line_error(cli_env("get-visits", sim, str(cli_env.workdir / "v.csv"), ok=False), "visits")
    assert_one_line_error(
        cli_env("get-file", sim, "visits", str(cli_env.workdir / "no" / "dir" / "v.h5"), ok=False),
        "directory",
    )
    assert sequence_count(cli_env) == before
    assert store_files(cli_env) == []
    assert not any(p.name in ("r.h5", "v.h5", "v.csv") for p in cli_env.workdir.iterdir())


def test_bad_visits_file_writes_nothing(cli_env: Vseq, sim: str) -> None:
    junk = cli_env.workdir / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    before = sequence_count(cli_env)
    assert_one_line_error(
        cli_env("record-visitseq-metadata", "simulations", str(junk), "x", ok=False), "junk.db"
    )
    assert_one_line_error(cli_env("archive-file", sim, str(junk), "visits", ok=False), "junk.db")
    assert sequence_count(cli_env) == before
    assert store_files(cli_env) == []
    assert cli_env.out("get-visitseq-url", sim) == ""


def test_wrong_table_and_field(cli_env: Vseq, sim: str, opsim_db: Path) -> None:
    before = sequence_count(cli_env)
    result = cli_env("record-visitseq-metadata", "simulation", str(opsim_db), "x", ok=False)
    assert_one_line_error(result, "simulation")
    assert_one_line_error(cli_env("get-visitseq-metadata", sim, "--table", "nosuch", ok=False), "nosuch")
    assert_one_line_error(cli_env("update-visitseq-metadata", sim, "nosuch", "1", ok=False), "nosuch")
    assert_one_line_error(cli_env("update-visitseq-metadata", sim, "conda_env_sha256", "zz", ok=False), "hex")
    assert_one_line_error(
        cli_env("update-visitseq-metadata", sim, "parent_visitseq_uuid", "x", ok=False), "x"
    )
    bad_telescope = cli_env(
        "record-visitseq-metadata", "simulations", str(opsim_db), "x", "--telescope", "hubble", ok=False
    )
    assert_one_line_error(bad_telescope, "hubble")
    assert sequence_count(cli_env) == before
    assert cli_env.out("get-visitseq-metadata", sim)  # untouched


def test_bad_dayobs(cli_env: Vseq, sim: str, opsim_db: Path) -> None:
    before = sequence_count(cli_env)
    for value in ("2026-13-01", "20260230", "yesterday"):
        result = cli_env(
            "record-visitseq-metadata", "simulations", str(opsim_db), "x", "--first_day_obs", value, ok=False
        )
        assert_one_line_error(result, value)
    assert_one_line_error(cli_env("make-prenight-index", "2026-02-30", "simonyi", ok=False), "2026-02-30")
    assert_one_line_error(cli_env("update-visitseq-metadata", sim, "first_day_obs", "0", ok=False), "0")
    assert_one_line_error(cli_env("search", "--night", "nope", ok=False), "nope")
    assert_one_line_error(
        cli_env(
            "record-visitseq-metadata", "simulations", str(opsim_db), "x", "--creation_time", "soon", ok=False
        ),
        "soon",
    )
    assert sequence_count(cli_env) == before


def test_unreachable_database(cli_env: Vseq, opsim_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vseq_tests.services import free_port

    url = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/postgres"
    env = dict(cli_env.env, VSEQ_DATABASE_URL=url)
    monkeypatch.setenv("VSEQ_DATABASE_URL", url)
    down = Vseq(env=env, store=cli_env.store, index=cli_env.index, workdir=cli_env.workdir)
    sim = str(uuid.uuid4())
    for args in (
        ("get-visitseq-url", sim),
        ("record-visitseq-metadata", "simulations", str(opsim_db), "x"),
        ("archive-file", sim, str(opsim_db), "visits"),
        ("make-prenight-index", "2026-04-11", "simonyi"),
    ):
        result = down(*args, ok=False)
        assert_one_line_error(result, "127.0.0.1")
    assert store_files(cli_env) == []


def test_usage_errors_stay_clicks(cli_env: Vseq) -> None:
    result = cli_env("tag", ok=False)
    assert result.exit_code == 2
    result = cli_env("no-such-command", ok=False)
    assert result.exit_code == 2


def test_corrupt_download_writes_nothing(cli_env: Vseq, sim: str, opsim_db: Path) -> None:
    url = cli_env.out("archive-file", sim, str(opsim_db), "visits")
    day = url.split("/")[-3]
    ArchiveStore(cli_env.store).put_file("simonyi", day, sim, b"tampered", "visits.h5", overwrite=True)
    for name in ("v.h5", "v.db"):
        target = cli_env.workdir / name
        assert_one_line_error(cli_env("get-file", sim, "visits", str(target), ok=False), "sha-256")
        assert not target.exists()
    assert [p.name for p in cli_env.workdir.iterdir() if p.name.startswith(".")] == []
