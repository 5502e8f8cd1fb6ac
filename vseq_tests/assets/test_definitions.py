"""The definitions as Dagster loads them, the partitions, schedules, resources and instance."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, EnvVar, build_schedule_context
from dagster_postgres import PostgresEventLogStorage

from vseq_assets.definitions import defs
from vseq_assets.nightly import instance_template, prepare_dagster_home
from vseq_assets.partitions import completed_partitions, dayobs_partitions, is_complete, prenight_partitions
from vseq_assets.resources import build_resources
from vseq_resources.config import ConsDBSettings, Settings
from vseq_resources.dagster_resources import (
    ArchiveResource,
    LocalConsDBResource,
    PrenightSimulationResource,
    RestConsDBResource,
    SqlConsDBResource,
    VseqArchiveIOManager,
    consdb_resource,
)
from vseq_resources.errors import ConfigurationError
from vseq_tests.assets.conftest import LSSTCAM_VISITS, NIGHT

REPO = Path(__file__).resolve().parents[2]


def test_definitions_load_like_dagster_dev(tmp_path: Path, dagster_pg_url: str) -> None:
    """workspace.yaml + the project's dagster.yaml, through a gRPC code server, as `dagster dev`."""
    home = prepare_dagster_home(tmp_path)
    env = dict(os.environ, DAGSTER_HOME=str(home), VSEQ_DAGSTER_PG_URL=dagster_pg_url)
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml", "--load-with-grpc"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Validation successful for code location vseq" in result.stdout + result.stderr


def test_asset_keys_and_jobs() -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for telescope in ("simonyi", "auxtel"):
        names = ("consdb_visits", "completed_visits", "completed_metadata")
        assert {f"{telescope}/{name}" for name in names} <= keys
        job = defs.resolve_job_def(f"{telescope}_completed_night")
        assert job.partitions_def == completed_partitions
        checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
        assert {"visits_file_reads_back", "metadata_row_points_at_visits"} <= checks
    metadata_node = graph.get(AssetKey(["simonyi", "completed_metadata"]))
    assert AssetKey(["simonyi", "completed_visits"]) in metadata_node.parent_keys


def test_dayobs_partitions() -> None:
    parts = dayobs_partitions(start="2025-10-01")
    window = parts.time_window_for_partition_key("2025-10-16")
    assert window.start == dt.datetime(2025, 10, 16, 12, tzinfo=dt.UTC)
    assert window.end == dt.datetime(2025, 10, 17, 12, tzinfo=dt.UTC)
    # 11:59 UTC on the 17th: night 16 is not over, so the newest completed partition is the 15th;
    # the pre-night partitions already include the coming night (the 16th).
    before = dt.datetime(2025, 10, 17, 11, 59, tzinfo=dt.UTC)
    assert parts.get_partition_keys(current_time=before)[-1] == "2025-10-15"
    prenight = dayobs_partitions(1, start="2025-10-01")
    assert prenight.get_partition_keys(current_time=before)[-1] == "2025-10-16"
    after = dt.datetime(2025, 10, 17, 12, 1, tzinfo=dt.UTC)
    assert parts.get_partition_keys(current_time=after)[-1] == "2025-10-16"
    assert not is_complete("2025-10-16", now=before) and is_complete("2025-10-16", now=after)
    assert prenight_partitions.end_offset == 1 and completed_partitions.end_offset == 0


def test_partition_start_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSEQ_PARTITIONS_START", "20250901")
    assert dayobs_partitions().start.date() == dt.date(2025, 9, 1)


@pytest.mark.parametrize("telescope", ["simonyi", "auxtel"])
def test_schedule_materializes_the_night_that_ended(telescope: str) -> None:
    schedule = defs.resolve_schedule_def(f"{telescope}_completed_night_schedule")
    assert schedule.execution_timezone == "Etc/GMT+12"
    with DagsterInstance.ephemeral() as instance:
        tick = dt.datetime(2025, 10, 17, 12, 30, tzinfo=dt.UTC)  # 00:30 dayobs time on the 17th
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2025-10-16"]


def test_consdb_resource_chosen_by_environment(tmp_path: Path) -> None:
    rest = consdb_resource(
        ConsDBSettings.from_env(
            {"VSEQ_CONSDB_REST_URL": "https://consdb.example/consdb", "VSEQ_CONSDB_TOKEN": "secret"}
        )
    )
    assert isinstance(rest, RestConsDBResource)
    assert rest.token == EnvVar("VSEQ_CONSDB_TOKEN")  # the secret itself is never in the config
    sql_settings = ConsDBSettings.from_env(
        {"VSEQ_CONSDB_URL": "postgresql+psycopg2://reader@consdb/exposurelog"}
    )
    sql = consdb_resource(sql_settings)
    assert isinstance(sql, SqlConsDBResource) and sql.password is None
    local = consdb_resource(ConsDBSettings.from_env({}), tmp_path)
    assert isinstance(local, LocalConsDBResource) and local.state_dir == str(tmp_path)


def test_resources_show_the_settings_they_run_with(tmp_path: Path) -> None:
    """Every value a run uses is on the resources' fields (what the UI shows), secrets as EnvVar."""
    env = {
        "VSEQ_STATE_DIR": str(tmp_path),
        "VSEQ_DATABASE_URL": "postgresql+psycopg2://writer@db.example:5432/opsim",
        "VSARCHIVE_PGSCHEMA": "vsmd_test",
        "VSEQ_ARCHIVE_URI": "s3://rubin:bucket/vseq",
        "VSEQ_CONSDB_URL": "postgresql+psycopg2://reader@consdb/exposurelog",
        "VSEQ_CONSDB_PASSWORD": "consdb-secret-5c1",
        "VSEQ_PRENIGHT_NIGHTS": "2",
        "VSEQ_PRENIGHT_VARIANTS": "nominal, delay_30",
        "VSEQ_PRENIGHT_LOOKBACK_NIGHTS": "30",
    }
    resources = build_resources(Settings.from_env(env))
    archive = resources["archive"]
    assert isinstance(archive, ArchiveResource)
    assert archive.database_url == "postgresql+psycopg2://writer@db.example:5432/opsim"
    assert (archive.db_schema, archive.archive_uri) == ("vsmd_test", "s3://rubin:bucket/vseq/")
    assert archive.prenight_index_uri == (tmp_path / "prenight_index").as_uri() + "/"
    assert archive.state_dir == str(tmp_path)
    prenight = resources["prenight"]
    assert isinstance(prenight, PrenightSimulationResource)
    assert (prenight.nights, prenight.variants, prenight.lookback_nights) == (2, ["nominal", "delay_30"], 30)
    consdb = resources["consdb"]
    assert consdb.password == EnvVar("VSEQ_CONSDB_PASSWORD")
    assert "consdb-secret-5c1" not in repr(resources)


NETWORK_SERVICES = {
    "VSEQ_DATABASE_URL": "postgresql+psycopg2://writer@db.example:5432/opsim",
    "VSEQ_ARCHIVE_URI": "s3://rubin:bucket/opsim/vseq/",
    "VSEQ_PRENIGHT_INDEX_URI": "s3://rubin:bucket/opsim/prenight_index/",
    "VSEQ_CONSDB_REST_URL": "https://consdb.example/consdb",
}
"""Settings with nothing on a host's disk: what steps on other hosts need (``VSEQ_IO_S3_BUCKET``)."""


def test_steps_on_other_hosts_use_s3_and_network_services_only(tmp_path: Path) -> None:
    """``VSEQ_IO_S3_BUCKET`` binds Dagster's S3 pickle IO manager (credentials left to boto) and
    refuses every setting that would keep something a step needs on one host's disk."""
    from dagster_aws.s3 import S3PickleIOManager

    network = {
        "VSEQ_STATE_DIR": str(tmp_path),
        **NETWORK_SERVICES,
        "VSEQ_IO_S3_BUCKET": "steps-bucket",
        "S3_ENDPOINT_URL": "http://s3.example:9000",
    }
    io_manager = build_resources(Settings.from_env(network))["io_manager"]
    assert isinstance(io_manager, S3PickleIOManager)
    assert (io_manager.s3_bucket, io_manager.s3_prefix) == ("steps-bucket", "vseq-dagster-io")
    assert io_manager.s3_resource.endpoint_url == "http://s3.example:9000"
    assert io_manager.s3_resource.aws_access_key_id is None  # boto's own variables, read by boto
    assert "io_manager" not in build_resources(Settings.from_env({"VSEQ_STATE_DIR": str(tmp_path)}))

    without_index = {k: v for k, v in network.items() if k != "VSEQ_PRENIGHT_INDEX_URI"}
    with pytest.raises(ConfigurationError) as refused:
        build_resources(Settings.from_env(without_index))
    assert str(refused.value) == (
        f"VSEQ_IO_S3_BUCKET is set (steps may run on other hosts), but VSEQ_PRENIGHT_INDEX_URI is on "
        f"this host's disk ({tmp_path.as_uri()}/prenight_index/): set an s3:// URI"
    )
    with pytest.raises(ConfigurationError) as refused:
        build_resources(Settings.from_env({"VSEQ_STATE_DIR": str(tmp_path), "VSEQ_IO_S3_BUCKET": "steps"}))
    message = str(refused.value)
    assert "\n" not in message and message.count("; ") == 3
    for named in ("embedded server", "VSEQ_ARCHIVE_URI is on", "INDEX_URI is on", "local demo database"):
        assert named in message


def test_a_bad_variable_fails_the_definitions_once_clearly(tmp_path: Path) -> None:
    """Loading the definitions as Dagster does: the error names the variable and the fix."""
    env = dict(os.environ, VSEQ_STATE_DIR=str(tmp_path), VSEQ_PRENIGHT_NIGHTS="three")
    result = subprocess.run(
        [sys.executable, "-c", "import vseq_assets.definitions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "vseq_resources.errors.ConfigurationError: VSEQ_PRENIGHT_NIGHTS='three' is not a whole number "
        "from 1 to 14: fix it or unset it"
    )
    with pytest.raises(ConfigurationError, match="VSEQ_COMPLETED_SCHEDULE_TIME='25:00' is not a time"):
        Settings.from_env({"VSEQ_COMPLETED_SCHEDULE_TIME": "25:00"})


def test_instance_from_dagster_yaml_runs_a_partition(
    tmp_path: Path, dagster_pg_url: str, archive_resource, consdb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's dagster.yaml gives a PostgreSQL-backed, queued instance; a job runs on it."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(instance_template(), home / "dagster.yaml")
    monkeypatch.setenv("VSEQ_DAGSTER_PG_URL", dagster_pg_url)
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        # dagster-postgres' storage whose blocked pool claims wait, report and can be interrupted
        assert type(instance.event_log_storage).__name__ == "PoolWaitingEventLogStorage"
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        run_config = instance.get_concurrency_config().run_queue_config
        assert run_config.max_concurrent_runs == 4
        assert {"key": "dagster/backfill", "limit": 2} in run_config.tag_concurrency_limits
        settings = instance.get_settings("telemetry")
        assert settings.get("enabled") is False and instance.get_settings("nux").get("enabled") is False

        job = defs.resolve_job_def("simonyi_completed_night")
        result = job.execute_in_process(
            partition_key=NIGHT,
            instance=instance,
            resources={
                "archive": archive_resource,
                "consdb": SqlConsDBResource(url=consdb_url),
                "vseq_archive": VseqArchiveIOManager(archive=archive_resource),
            },
        )
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run.status == DagsterRunStatus.SUCCESS and run.tags["dagster/partition"] == NIGHT
        record = instance.get_latest_materialization_event(AssetKey(["simonyi", "completed_visits"]))
        assert record.asset_materialization.metadata["visit_count"].value == LSSTCAM_VISITS


def test_schedules_follow_the_settings(tmp_path: Path) -> None:
    from dagster import DefaultScheduleStatus

    from vseq_assets.definitions import build_definitions

    env = {
        "VSEQ_STATE_DIR": str(tmp_path),
        "VSEQ_COMPLETED_SCHEDULE_TIME": "01:15",
        "VSEQ_PRENIGHT_SCHEDULE_TIME": "07:05",
        "VSEQ_SCHEDULES_RUNNING": "yes",
    }
    built = build_definitions(Settings.from_env(env))
    completed = built.resolve_schedule_def("simonyi_completed_night_schedule")
    prenight = built.resolve_schedule_def("auxtel_prenight_schedule")
    assert (completed.cron_schedule, prenight.cron_schedule) == ("15 1 * * *", "5 7 * * *")
    assert completed.default_status == DefaultScheduleStatus.RUNNING
    stopped = build_definitions(Settings.from_env({"VSEQ_STATE_DIR": str(tmp_path)}))
    schedule = stopped.resolve_schedule_def("simonyi_completed_night_schedule")
    assert schedule.cron_schedule == "30 0 * * *" and schedule.default_status == DefaultScheduleStatus.STOPPED


def test_executor_chosen_by_the_environment(tmp_path: Path) -> None:
    """In process by default (README's one-machine mode); Celery, with the workers' own settings,
    when ``VSEQ_EXECUTOR=celery`` (the distributed mode)."""
    from vseq_assets.celery import CELERY_CONFIG
    from vseq_assets.definitions import build_definitions

    base = {"VSEQ_STATE_DIR": str(tmp_path)}
    one_machine = build_definitions(Settings.from_env(base))
    assert one_machine.resolve_job_def("simonyi_prenight").executor_def.name == "in_process"
    distributed = build_definitions(
        Settings.from_env(
            {
                **base,
                **NETWORK_SERVICES,
                "VSEQ_EXECUTOR": "celery",
                "VSEQ_CELERY_BROKER_URL": "amqp://guest:guest@broker:5672//",
                "VSEQ_IO_S3_BUCKET": "io",
            }
        )
    )
    for job in ("simonyi_prenight", "auxtel_completed_night"):
        executor = distributed.resolve_job_def(job).executor_def
        assert executor.name == "vseq_celery_executor"
    assert CELERY_CONFIG["broker"] == {"env": "VSEQ_CELERY_BROKER_URL"}  # no password in run records


def test_worker_app_has_the_executors_settings_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers' Celery app takes the executor's settings and the broker URL from the
    environment, in memory: no file appears under DAGSTER_HOME (dagster-celery's own worker
    command writes the URL, password included, into one)."""
    import importlib

    from vseq_assets.celery import CELERY_CONFIG

    broker = "amqp://vseq:s3cret@broker:5672/vseq"
    monkeypatch.setenv("VSEQ_CELERY_BROKER_URL", broker)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delitem(sys.modules, "vseq_assets.celery_app", raising=False)
    worker = importlib.import_module("vseq_assets.celery_app")
    assert worker.app.conf.broker_url == broker
    for name, value in CELERY_CONFIG["config_source"].items():
        assert worker.app.conf[name] == value, name
    assert {"execute_plan", "execute_job", "resume_job"} <= set(worker.app.tasks)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.delitem(sys.modules, "vseq_assets.celery_app")
    monkeypatch.delenv("VSEQ_CELERY_BROKER_URL")
    with pytest.raises(ConfigurationError, match="VSEQ_CELERY_BROKER_URL"):
        importlib.import_module("vseq_assets.celery_app")
