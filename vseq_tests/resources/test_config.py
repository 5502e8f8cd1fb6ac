"""Settings come from arguments, then the environment, then embedded defaults."""

from pathlib import Path

import pytest

from vseq_resources.config import ArchiveSettings
from vseq_resources.errors import ConfigurationError

VARS = (
    "VSEQ_DATABASE_URL", "VSARCHIVE_PGHOST", "VSARCHIVE_PGDATABASE", "VSARCHIVE_PGPORT",
    "VSARCHIVE_PGUSER", "VSARCHIVE_PGSCHEMA", "VSEQ_ARCHIVE_URI", "VSEQ_PRENIGHT_INDEX_URI",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VSEQ_STATE_DIR", str(tmp_path / "state"))


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = ArchiveSettings.from_env()
    assert settings.uses_embedded_database
    assert settings.schema == "vsmd"
    assert settings.store_uri == (tmp_path / "state" / "archive").as_uri() + "/"
    assert settings.index_uri.endswith("/prenight_index/")


def test_production_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSARCHIVE_PGHOST", "db.example.org")
    monkeypatch.setenv("VSARCHIVE_PGPORT", "5433")
    monkeypatch.setenv("VSARCHIVE_PGDATABASE", "opsim")
    monkeypatch.setenv("VSARCHIVE_PGUSER", "writer")
    monkeypatch.setenv("VSARCHIVE_PGSCHEMA", "vsmd_test")
    monkeypatch.setenv("VSEQ_ARCHIVE_URI", "s3://rubin:rubin-scheduler-prenight/opsim/vseq")
    settings = ArchiveSettings.from_env()
    assert settings.database_url == "postgresql+psycopg2://writer@db.example.org:5433/opsim"
    assert settings.schema == "vsmd_test"
    assert settings.store_uri == "s3://rubin:rubin-scheduler-prenight/opsim/vseq/"


def test_arguments_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSARCHIVE_PGHOST", "env-host")
    settings = ArchiveSettings.from_env(host="arg-host", schema="other")
    assert settings.database_url == "postgresql+psycopg2://arg-host/"
    assert settings.schema == "other"


def test_password_in_url_is_refused_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSEQ_DATABASE_URL", "postgresql://bob:s3cret-pw@host/db")
    with pytest.raises(ConfigurationError) as info:
        ArchiveSettings.from_env()
    assert "s3cret-pw" not in str(info.value)


@pytest.mark.parametrize("schema", ["vsmd; drop table x", "a-b", "1bad", "x" * 64, "vsmd\u00e9"])
def test_bad_schema_names(schema: str) -> None:
    with pytest.raises(ConfigurationError, match="schema"):
        ArchiveSettings.from_env(schema=schema)


def test_bad_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSARCHIVE_PGPORT", "fivefourthreetwo")
    with pytest.raises(ConfigurationError, match="VSARCHIVE_PGPORT"):
        ArchiveSettings.from_env()
