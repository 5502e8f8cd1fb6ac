"""Settings come from arguments, then the environment, then embedded defaults; a bad value fails
once, in one line naming the variable and the fix, and a password is never taken from a URL."""

import datetime as dt
from pathlib import Path

import pytest

from vseq_resources.config import (
    ArchiveSettings,
    ConsDBSettings,
    DagsterSettings,
    PrenightSettings,
    ScheduleSettings,
    Settings,
)
from vseq_resources.errors import ConfigurationError

VARS = (
    "VSEQ_DATABASE_URL",
    "VSARCHIVE_PGHOST",
    "VSARCHIVE_PGDATABASE",
    "VSARCHIVE_PGPORT",
    "VSARCHIVE_PGUSER",
    "VSARCHIVE_PGSCHEMA",
    "VSEQ_ARCHIVE_URI",
    "VSEQ_PRENIGHT_INDEX_URI",
)
SECRET = "s3cret-pw-81d"


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
    monkeypatch.setenv("VSEQ_DATABASE_URL", f"postgresql://bob:{SECRET}@host/db")
    with pytest.raises(ConfigurationError) as info:
        ArchiveSettings.from_env()
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("schema", ["vsmd; drop table x", "a-b", "1bad", "x" * 64, "vsmd\u00e9"])
def test_bad_schema_names(schema: str) -> None:
    with pytest.raises(ConfigurationError, match="schema"):
        ArchiveSettings.from_env(schema=schema)


def test_bad_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSARCHIVE_PGPORT", "fivefourthreetwo")
    with pytest.raises(ConfigurationError, match="VSARCHIVE_PGPORT"):
        ArchiveSettings.from_env()


def test_every_documented_default(tmp_path: Path) -> None:
    settings = Settings.from_env({"VSEQ_STATE_DIR": str(tmp_path)})
    assert settings.archive == ArchiveSettings(state_dir=tmp_path)
    assert settings.consdb == ConsDBSettings() and settings.consdb.kind == "local"
    assert settings.prenight == PrenightSettings()
    assert settings.prenight.nights == 3 and settings.prenight.variants is None
    assert settings.schedule == ScheduleSettings(dt.date(2025, 4, 15), (0, 30), (6, 0), running=False)
    assert settings.dagster == DagsterSettings(None, None, "vseq-dagster-io", None)


def test_every_variable_read() -> None:
    env = {
        "VSEQ_STATE_DIR": "/tmp/vseq-state-test",
        "VSEQ_PRENIGHT_INDEX_URI": "s3://rubin:bucket/index",
        "VSEQ_CONSDB_REST_URL": "https://consdb.example/consdb",
        "VSEQ_CONSDB_TOKEN": "token",
        "VSEQ_CONSDB_URL": "postgresql+psycopg2://reader@consdb/exposurelog",
        "VSEQ_PRENIGHT_SCHEDULER": "/configs/survey.py",
        "VSEQ_PRENIGHT_NIGHTS": "2",
        "VSEQ_PRENIGHT_VARIANTS": "nominal,delay_30 seeing_1.2",
        "VSEQ_PRENIGHT_LOOKBACK_NIGHTS": "30",
        "VSEQ_PARTITIONS_START": "20250901",
        "VSEQ_COMPLETED_SCHEDULE_TIME": "01:15",
        "VSEQ_PRENIGHT_SCHEDULE_TIME": "7:05",
        "VSEQ_SCHEDULES_RUNNING": "1",
        "VSEQ_DAGSTER_PG_URL": "postgresql+psycopg2://dagster@db:5432/dagster",
        "VSEQ_IO_S3_BUCKET": "io",
        "VSEQ_IO_S3_PREFIX": "steps",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    }
    settings = Settings.from_env(env)
    assert settings.archive.state_dir == Path("/tmp/vseq-state-test")
    assert settings.archive.index_uri == "s3://rubin:bucket/index/"
    assert settings.consdb == ConsDBSettings(
        "https://consdb.example/consdb", True, "postgresql+psycopg2://reader@consdb/exposurelog", False
    )
    assert settings.consdb.kind == "rest"  # REST wins over SQL when both are set
    variants = ("nominal", "delay_30", "seeing_1.2")
    assert settings.prenight == PrenightSettings(
        scheduler="/configs/survey.py", nights=2, variants=variants, lookback_nights=30
    )
    assert settings.schedule == ScheduleSettings(dt.date(2025, 9, 1), (1, 15), (7, 5), running=True)
    assert settings.dagster == DagsterSettings(
        "postgresql+psycopg2://dagster@db:5432/dagster", "io", "steps", "http://127.0.0.1:9000"
    )


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("VSEQ_PRENIGHT_NIGHTS", "three", "='three' is not a whole number from 1 to 14: fix it or unset it"),
        ("VSEQ_PRENIGHT_NIGHTS", "15", "='15' is not a whole number from 1 to 14"),
        ("VSEQ_PRENIGHT_LOOKBACK_NIGHTS", "0", "='0' is not a whole number of at least 1"),
        ("VSARCHIVE_PGPORT", "99999", "='99999' is not a whole number from 1 to 65535"),
        ("VSEQ_PARTITIONS_START", "April", "='April' is not a dayobs: use YYYY-MM-DD or YYYYMMDD"),
        ("VSEQ_COMPLETED_SCHEDULE_TIME", "12h30", "='12h30' is not a time of day: use HH:MM (e.g. 00:30)"),
        ("VSEQ_PRENIGHT_SCHEDULE_TIME", "24:00", "='24:00' is not a time of day: use HH:MM (e.g. 06:00)"),
        ("VSEQ_SCHEDULES_RUNNING", "maybe", "='maybe' is not a yes/no value: use 1 or 0"),
        ("VSEQ_DATABASE_URL", "not a url", " is not a database URL: use postgresql+psycopg2://"),
    ],
)
def test_a_bad_value_fails_in_one_line_naming_the_variable(name: str, value: str, fix: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({name: value})
    text = str(info.value)
    assert text.startswith(name + fix) and "\n" not in text


def test_database_url_and_production_variables_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """VSARCHIVE_PG* and VSEQ_DATABASE_URL could name two databases: neither silently wins."""
    monkeypatch.setenv("VSEQ_DATABASE_URL", "postgresql+psycopg2://writer@url-host/opsim")
    monkeypatch.setenv("VSARCHIVE_PGHOST", "env-host")
    monkeypatch.setenv("VSARCHIVE_PGUSER", "writer")
    with pytest.raises(ConfigurationError) as info:
        ArchiveSettings.from_env()
    assert str(info.value) == (
        "VSEQ_DATABASE_URL and VSARCHIVE_PGHOST, VSARCHIVE_PGUSER are both set: unset one of them "
        "(VSARCHIVE_PG* as production sets them, or VSEQ_DATABASE_URL)"
    )
    # An explicit choice (the CLI's --host/--database/--user) wins over both, as documented.
    chosen = ArchiveSettings.from_env(host="arg-host", database="opsim")
    assert chosen.database_url == "postgresql+psycopg2://writer@arg-host/opsim"
    monkeypatch.delenv("VSARCHIVE_PGHOST")
    monkeypatch.delenv("VSARCHIVE_PGUSER")
    assert ArchiveSettings.from_env().database_url == "postgresql+psycopg2://writer@url-host/opsim"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://bob:{SECRET}@host/db",
        f"postgresql+psycopg2://bob@host/db?password={SECRET}",
        f"postgresql+psycopg2://bob@host/db?sslmode=require&PASSWORD={SECRET}",
    ],
)
@pytest.mark.parametrize("name", ["VSEQ_DATABASE_URL", "VSEQ_CONSDB_URL", "VSEQ_DAGSTER_PG_URL"])
def test_password_in_any_url_is_refused_without_echo(name: str, url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({name: url})
    assert str(info.value) == (
        f"{name} must not carry a password: remove it from the URL and use PGPASSWORD or ~/.pgpass"
    )


def test_resources_refuse_a_password_in_a_url_without_echo() -> None:
    from vseq_resources.dagster_resources import ArchiveResource, SqlConsDBResource

    for make in (
        lambda: ArchiveResource(database_url=f"postgresql+psycopg2://u@h/db?password={SECRET}").settings(),
        lambda: SqlConsDBResource(url=f"postgresql+psycopg2://u@h/db?password={SECRET}").engine_url(),
        lambda: SqlConsDBResource(url=f"postgresql+psycopg2://u@h/db?password={SECRET}").describe(),
    ):
        with pytest.raises(ConfigurationError, match="must not carry a password") as info:
            make()
        assert SECRET not in str(info.value)


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    """Through the installed command, as an operator sees it: one line, exit 1, no password."""
    import os
    import subprocess
    import sys

    vseqarchive = str(Path(sys.executable).with_name("vseqarchive"))
    base = {k: v for k, v in os.environ.items() if k not in VARS}
    base["VSEQ_STATE_DIR"] = str(tmp_path / "state")
    for extra, expected in (
        (
            {"VSEQ_DATABASE_URL": "postgresql+psycopg2://w@h/db", "VSARCHIVE_PGHOST": "h"},
            "VSEQ_DATABASE_URL and VSARCHIVE_PGHOST are both set: unset one of them",
        ),
        (
            {"VSEQ_DATABASE_URL": f"postgresql+psycopg2://w@h/db?password={SECRET}"},
            "VSEQ_DATABASE_URL must not carry a password",
        ),
    ):
        done = subprocess.run(
            [vseqarchive, "search"], env={**base, **extra}, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"vseqarchive: error: {expected}") and done.stderr.count("\n") == 1
        assert SECRET not in done.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was started


def test_executor_in_process_by_default_celery_when_asked() -> None:
    assert DagsterSettings.from_env({}).executor == "in_process"
    env = {
        "VSEQ_EXECUTOR": "Celery",
        "VSEQ_CELERY_BROKER_URL": "amqp://guest:guest@broker:5672//",
        "VSEQ_IO_S3_BUCKET": "io",
    }
    assert DagsterSettings.from_env(env).executor == "celery"


def test_io_bucket_is_a_plain_bucket_name() -> None:
    """Dagster's S3 IO manager goes through boto, which refuses a Ceph tenant prefix."""
    assert DagsterSettings.from_env({"VSEQ_IO_S3_BUCKET": "rubin-io.2"}).io_s3_bucket == "rubin-io.2"
    for bucket in ("rubin:rubin-scheduler-prenight", "bucket/steps"):
        with pytest.raises(ConfigurationError) as raised:
            DagsterSettings.from_env({"VSEQ_IO_S3_BUCKET": bucket})
        assert str(raised.value).startswith(f"VSEQ_IO_S3_BUCKET={bucket!r} is not a bucket name boto accepts")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VSEQ_EXECUTOR": "k8s"}, "VSEQ_EXECUTOR='k8s' is not an executor: use in_process or celery"),
        (
            {"VSEQ_EXECUTOR": "celery", "VSEQ_IO_S3_BUCKET": "io"},
            "VSEQ_EXECUTOR=celery needs VSEQ_CELERY_BROKER_URL: set it",
        ),
        (
            {"VSEQ_EXECUTOR": "celery", "VSEQ_CELERY_BROKER_URL": "amqp://broker//"},
            "VSEQ_EXECUTOR=celery needs VSEQ_IO_S3_BUCKET: set it",
        ),
    ],
)
def test_celery_executor_settings_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DagsterSettings.from_env(env)
    assert message in str(raised.value)
