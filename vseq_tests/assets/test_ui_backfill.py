"""Backfills launched from the Dagster UI, end to end: submitted through dagster-graphql exactly
as the UI submits them, run by a real ``dagster-daemon`` on an instance with the project's
``dagster.yaml`` (PostgreSQL storage, queued runs), over vseq's real definitions
(``vseq_assets.definitions``, the module ``dagster dev`` loads), served by one code server to
the test's GraphQL context and to the daemon, as ``dagster dev`` serves them.

What the UI does is ported from dagster-webserver 1.13.27's own source (its source maps, under
``dagster_webserver/webapp/build``), in ``ui-core/src``:

- ``assets/LaunchAssetExecutionButton.tsx`` (``stateForLaunchingAssets``, ``getCommonJob``): the
  job of a selection is the job whose page the button is on (``preferredJobName``: the job's
  asset graph, its Partitions tab), else the first of the first asset's ``jobNames`` that every
  asset has (an asset's page, the global asset graph);
- ``assets/LaunchAssetChoosePartitionsDialog.tsx`` (``onLaunchAsBackfill``): a job backfill
  (``selector.partitionSetName``) when that job is not hidden, else an asset backfill
  (``assetSelection`` + ``partitionNames``), tagged ``dagster/from_ui``;
- ``assets/AssetPartitionDetail.tsx``: a partition page shows, under "Job", the job of the run of
  the partition's latest materialization, or "None" when that job is hidden
  (``asset-graph/Utils.tsx``, ``isHiddenAssetGroupJob``).

``jobNames`` is sorted by dagster (``_core/remote_representation/external_data.py``,
``asset_node_snaps_from_repo``), and the hidden ``__ASSET_JOB`` sorts before every name that
starts with a lowercase letter, so in Dagster 1.13 a backfill from an asset's page runs as
``__ASSET_JOB`` and partition pages show "Job: None", while one from the job's page runs as the
job (``docs/deployment.md``, "Backfills from the UI"). The test asserts both, and that the Runs
page's telescope and family filter lists both runs (the asset job's through the tags vseq's steps
add, ``vseq_assets/run_tags.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import GrpcServerTarget
from dagster._grpc.client import DagsterGrpcClient
from dagster_graphql.test.utils import execute_dagster_graphql

from vseq_assets.completed import ARCHIVE_POOL
from vseq_assets.consdb import CONSDB_POOL
from vseq_assets.run_tags import FAMILY_TAG, TELESCOPE_TAG
from vseq_resources.metadata.database import MetadataDatabase
from vseq_tests.assets.conftest import EMPTY_NIGHT, NIGHT
from vseq_tests.reliability.support import dagster_home, subprocess_env

TELESCOPE = "simonyi"
CHAIN = ("consdb_visits", "completed_visits", "completed_metadata", "night_review")
"""The completed-night chain, as a user selects it on the asset graph and clicks Materialize."""
SHUTDOWN_GRACE_SECONDS = 2
"""How long the code server waits, once told to stop, for gRPC calls still open (Dagster's
``DAGSTER_GRPC_SHUTDOWN_GRACE_PERIOD``). Its default is the gRPC timeout, 60 s: at the end of the
test the server would sit out all of it, SIGTERM or not, for calls of clients that are gone."""
STOP_TIMEOUT = 15
"""Seconds a stopped process group gets to exit before it is killed."""
DEQUEUE_INTERVAL_SECONDS = 1
"""How often the test's daemon starts queued runs (the project's dagster.yaml leaves Dagster's
5 s): the test waits for it twice, once per backfill run, with nothing else to do."""
BACKFILL_TIMEOUT = 900
"""Seconds after which a backfill that has not finished is reported as stuck, with the daemon's
log (a bound on a hang, far above the time the backfill takes, not a timing assertion)."""

HIDDEN_JOB_PREFIXES = ("__ASSET_JOB", "__anonymous_asset_job")
"""``isHiddenAssetGroupJob`` (ui-core ``asset-graph/Utils.tsx``)."""
UI_TAGS = [{"key": "dagster/from_ui", "value": "true"}]
"""``tagsWithUIExecutionTags`` (ui-core ``launchpad/uiExecutionTags.tsx``)."""

ASSET_NODES = """
query LaunchAssetLoaderQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys) {
    assetKey { path }
    jobNames
    repository { name location { name } }
  }
}"""

LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}"""

PARTITION_PAGE = """
query AssetPartitionDetailQuery($assetKey: AssetKeyInput!, $partitionKey: String!) {
  assetOrError(assetKey: $assetKey) {
    ... on Asset {
      assetEventHistory(partitions: [$partitionKey], limit: 1000, eventTypeSelectors: [MATERIALIZATION]) {
        results {
          ... on MaterializationEvent {
            timestamp
            runOrError { ... on Run { runId pipelineName } }
          }
        }
      }
    }
  }
}"""

RUNS_PAGE = """
query RunsRootQuery($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId pipelineName status tags { key value } } }
  }
}"""


def ui_job(assets: list[dict[str, Any]], preferred: str | None = None) -> str | None:
    """``getCommonJob``: ``preferred`` is the job whose page the button is on (its asset graph,
    its Partitions tab), None on an asset's page and on the global asset graph."""
    common = [name for name in assets[0]["jobNames"] if all(name in a["jobNames"] for a in assets)]
    return preferred if preferred in common else (common[0] if common else None)


def hidden(job_name: str) -> bool:
    return job_name.startswith(HIDDEN_JOB_PREFIXES)


def ui_backfill_params(
    assets: list[dict[str, Any]], partitions: list[str], preferred: str | None = None
) -> dict[str, Any]:
    """The ``backfillParams`` of ``onLaunchAsBackfill`` for a selection of assets in one
    partition space, launched from the page of job ``preferred`` (None: from an asset's page),
    with no tags or config added in the dialog."""
    params: dict[str, Any] = {
        "tags": UI_TAGS,
        "assetSelection": [{"path": a["assetKey"]["path"]} for a in assets],
        "partitionNames": partitions,
        "fromFailure": False,
    }
    job = ui_job(assets, preferred)
    if job is not None and not hidden(job):
        repository = assets[0]["repository"]
        params["selector"] = {
            "partitionSetName": f"{job}_partition_set",
            "repositorySelector": {
                "repositoryLocationName": repository["location"]["name"],
                "repositoryName": repository["name"],
            },
        }
    return params


def shown_job(context: Any, path: list[str], partition: str) -> str:
    """What the partition page of ``path`` shows under "Job" for ``partition``."""
    result = graphql(context, PARTITION_PAGE, {"assetKey": {"path": path}, "partitionKey": partition})
    events = result["assetOrError"]["assetEventHistory"]["results"]
    assert events, f"{'/'.join(path)} {partition} was not materialized"
    latest = max(events, key=lambda e: int(e["timestamp"]))
    job = latest["runOrError"]["pipelineName"]
    return "None" if hidden(job) else job


def graphql(context: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = execute_dagster_graphql(context, query, variables)
    assert not result.errors, result.errors
    return result.data


@pytest.fixture
def vseq_environment(
    pg_url: str,
    db_schema: str,
    consdb_url: str,
    dagster_pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The environment ``dagster dev`` runs vseq's definitions with, on test services: a
    migrated metadata schema, a ``file://`` store, the test ConsDB, and a ``$DAGSTER_HOME`` with
    the project's ``dagster.yaml`` whose storage is a fresh database (and whose daemon starts
    queued runs every :data:`DEQUEUE_INTERVAL_SECONDS`). Returns the state dir."""
    MetadataDatabase.from_url(pg_url, db_schema, create=True).close()
    state = tmp_path / "state"
    home = dagster_home(tmp_path / "dagster_home")
    instance_yaml = home / "dagster.yaml"
    config = yaml.safe_load(instance_yaml.read_text())
    config["run_coordinator"]["config"] = {"dequeue_interval_seconds": DEQUEUE_INTERVAL_SECONDS}
    instance_yaml.write_text(yaml.safe_dump(config))
    for name in ("VSARCHIVE_PGHOST", "VSARCHIVE_PGDATABASE", "VSARCHIVE_PGUSER", "VSARCHIVE_PGPORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": db_schema,
        "VSEQ_ARCHIVE_URI": (tmp_path / "archive").as_uri() + "/",
        "VSEQ_STATE_DIR": str(state),
        "VSEQ_CONSDB_URL": consdb_url,
        "DAGSTER_HOME": str(home),
        "VSEQ_DAGSTER_PG_URL": dagster_pg_url,
    }.items():
        monkeypatch.setenv(name, value)
    return state


class Processes:
    """Dagster processes the test starts, each in a session of its own (with the processes it
    starts: a code server's run workers), output in ``<name>.log``; stopped by :meth:`stop_all`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        command = [str(Path(sys.executable).with_name(name)), *args]
        with (self.directory / f"{name}.log").open("wb") as out:
            self.started.append(
                subprocess.Popen(
                    command,
                    env=subprocess_env(env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:]
            for log in self.directory.glob("*.log")
        )

    def stop_all(self) -> None:
        """SIGTERM to every group at once, then SIGKILL to each group once its leader has exited
        or :data:`STOP_TIMEOUT` has passed, so that no run worker outlives the test."""
        for process in reversed(self.started):
            os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.started):
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop_all()


def start_code_server(processes: Processes, socket: Path) -> GrpcServerTarget:
    """vseq's code location served on ``socket``, as ``dagster dev`` serves it to the webserver
    and the daemon alike; returns once it answers."""
    processes.start(
        "dagster",
        *("api", "grpc", "-m", "vseq_assets.definitions", "--socket", str(socket)),
        env={"DAGSTER_GRPC_SHUTDOWN_GRACE_PERIOD": str(SHUTDOWN_GRACE_SECONDS)},
    )
    client = DagsterGrpcClient(socket=str(socket))
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    while True:
        try:
            client.ping("vseq")
            break
        except DagsterUserCodeUnreachableError:
            if time.monotonic() > deadline or processes.started[-1].poll() is not None:
                raise AssertionError(f"the code server did not start:\n{processes.logs()}") from None
            time.sleep(1)
    return GrpcServerTarget(host="localhost", port=None, socket=str(socket), location_name="vseq")


def test_ui_backfills_run_tagged_in_the_job_the_partition_page_shows(
    vseq_environment: Path, processes: Processes, tmp_path: Path
) -> None:
    """The completed-night chain backfilled from the UI twice: NIGHT from the asset graph (the
    asset page's dialog: an asset backfill, in ``__ASSET_JOB``), EMPTY_NIGHT from the job's page
    (its graph or Partitions tab: a job backfill, in the job), as docs/deployment.md describes."""
    paths = [[TELESCOPE, name] for name in CHAIN]
    job = f"{TELESCOPE}_completed_night"
    target = start_code_server(processes, tmp_path / "code.sock")
    with DagsterInstance.get() as instance, WorkspaceProcessContext(instance, target) as workspace:
        # Created before runs start, as the webserver and daemon do in production (first uses of
        # a pool by concurrent runs race in Dagster 1.13: vseq_tests/reliability/test_backfill.py).
        for pool in (ARCHIVE_POOL, CONSDB_POOL):
            instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
        context = workspace.create_request_context()
        assets = graphql(context, ASSET_NODES, {"assetKeys": [{"path": p} for p in paths]})["assetNodes"]
        assert sorted(a["assetKey"]["path"] for a in assets) == sorted(paths)
        assets.sort(key=lambda a: paths.index(a["assetKey"]["path"]))
        # Dagster 1.13: the hidden job is every asset's first job name, so the asset page
        # launches an asset backfill. A Dagster that changes this order fails here:
        # docs/deployment.md ("Backfills from the UI") is then out of date.
        assert all(a["jobNames"] == ["__ASSET_JOB", job] for a in assets)
        from_asset_page = ui_backfill_params(assets, [NIGHT])
        from_job_page = ui_backfill_params(assets, [EMPTY_NIGHT], preferred=job)
        assert "selector" not in from_asset_page and "selector" in from_job_page

        backfills = {}
        for night, params in ((NIGHT, from_asset_page), (EMPTY_NIGHT, from_job_page)):
            launched = graphql(context, LAUNCH_BACKFILL, {"backfillParams": params})[
                "launchPartitionBackfill"
            ]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            backfills[night] = launched["backfillId"]

        # Started after the submissions, so that its first backfill iteration (every 30 s) takes them.
        workspace_yaml = tmp_path / "workspace.yaml"
        workspace_yaml.write_text(
            f"load_from:\n  - grpc_server:\n      host: localhost\n      socket: {target.socket}\n"
            f"      location_name: {target.location_name}\n"
        )
        processes.start("dagster-daemon", "run", "-w", str(workspace_yaml))
        runs = {
            night: wait_for_backfill_run(instance, backfill_id, processes)
            for night, backfill_id in backfills.items()
        }
        assert {
            night: (run.job_name, run.status, run.tags["dagster/partition"]) for night, run in runs.items()
        } == {
            NIGHT: ("__ASSET_JOB", DagsterRunStatus.SUCCESS, NIGHT),
            EMPTY_NIGHT: (job, DagsterRunStatus.SUCCESS, EMPTY_NIGHT),
        }

        # The Runs page, filtered by telescope and family, lists both backfills' runs.
        family_filter = {
            "tags": [{"key": TELESCOPE_TAG, "value": TELESCOPE}, {"key": FAMILY_TAG, "value": "completed"}]
        }
        listed = graphql(context, RUNS_PAGE, {"filter": family_filter})["runsOrError"]["results"]
        assert sorted(r["runId"] for r in listed) == sorted(run.run_id for run in runs.values())
        for run in listed:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            assert tags["dagster/from_ui"] == "true" and tags["dagster/backfill"] in backfills.values()

        for path in paths:
            assert shown_job(context, path, NIGHT) == "None", path
            assert shown_job(context, path, EMPTY_NIGHT) == job, path


def wait_for_backfill_run(instance: DagsterInstance, backfill_id: str, processes: Processes) -> Any:
    """The one run of a one-partition backfill once it has finished; fails with the processes'
    logs if it has not after :data:`BACKFILL_TIMEOUT` seconds."""
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    while time.monotonic() < deadline:
        runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
        if runs and all(run.is_finished for run in runs):
            assert len(runs) == 1, [run.run_id for run in runs]
            return runs[0]
        time.sleep(0.25)
    raise AssertionError(
        f"backfill {backfill_id} not finished after {BACKFILL_TIMEOUT} s:\n{processes.logs()}"
    )
