"""Fixtures of the CLI tests: an environment pointing ``vseqarchive`` at a fresh, migrated
schema of the real PostgreSQL server and at a store of each kind."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vseq_resources.cli import cli

from ..conftest import index_beside
from .support import make_opsim_db, make_rewards_h5

CONNECTION_VARIABLES = ("VSARCHIVE_PGHOST", "VSARCHIVE_PGDATABASE", "VSARCHIVE_PGUSER", "VSARCHIVE_PGPORT")


@dataclass
class Vseq:
    """Runs ``vseqarchive`` commands in-process with the test environment."""

    env: dict[str, str]
    store: str
    index: str
    workdir: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = self.runner.invoke(cli, list(args), env=self.env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    def out(self, *args: str) -> str:
        return self(*args).stdout.strip()


@pytest.fixture
def cli_env(
    pg_url: str, db_schema: str, store_base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Vseq:
    """A migrated schema and a store (file:// and s3://), as environment variables."""
    for name in CONNECTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env = {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": db_schema,
        "VSEQ_ARCHIVE_URI": store_base,
        "VSEQ_PRENIGHT_INDEX_URI": index_beside(store_base),
        "VSEQ_STATE_DIR": str(tmp_path / "state"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    vseq = Vseq(env=env, store=store_base, index=index_beside(store_base), workdir=tmp_path)
    vseq("migrate")
    return vseq


@pytest.fixture
def opsim_db(tmp_path: Path) -> Path:
    return make_opsim_db(tmp_path / "opsim.db", nights=("2026-04-11", "2026-04-12"))


@pytest.fixture
def rewards_h5(tmp_path: Path) -> Path:
    return make_rewards_h5(tmp_path / "rewards.h5")


def subprocess_env(vseq: Vseq) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_VARIABLES}
    env.update(vseq.env)
    return env
