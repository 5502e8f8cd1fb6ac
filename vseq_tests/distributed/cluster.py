"""A vseq deployment over several hosts (network namespaces, :mod:`.hosts`), for the distributed
test and benchmark.

- host ``daemon``: ``dagster-daemon run`` on a workspace of :mod:`.location` (the daemon starts
  the code server; the default run launcher starts each run's process here, which, with
  ``VSEQ_EXECUTOR=celery``, only sends the steps to the broker and waits for their results);
- hosts ``worker-1`` ... ``worker-N``: a Celery worker of vseq's worker app (one step at a time),
  which execute the steps;
- any other host (``reader``): a process that only reads the archive.

Each host's ``DAGSTER_HOME``, ``VSEQ_STATE_DIR``, ``HOME`` and ``TMPDIR`` are its own empty
directory (a private tmpfs, :class:`.hosts.Host`). They share only the network services of the
root namespace: PostgreSQL (the archive's schema, Dagster's storage, the ConsDB), SeaweedFS (the
archive, the index snapshots, the tables passed between steps) and RabbitMQ (a virtual host of
this cluster's own), each reached through a forward on the bridge's address.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from vseq_assets.celery import worker_command
from vseq_tests import services
from vseq_tests.distributed.hosts import Host, Network
from vseq_tests.reliability.support import create_database, drop_database

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "vseq_tests.distributed.location"
TELESCOPE = "simonyi"
INSTRUMENT = "lsstcam"
BROKER = ("127.0.0.1", 5672)
WORKER_LOG_READY = "ready."


def _rabbitmqctl(*args: str) -> None:
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")


def _pg_target(pg_url: str) -> str:
    """The socat address of the PostgreSQL server ``pg_url`` names (TCP or its Unix socket)."""
    url = sa.make_url(pg_url)
    socket_dir = url.query.get("host")
    if socket_dir:
        return f"UNIX-CONNECT:{socket_dir}/.s.PGSQL.{url.port or 5432}"
    return f"TCP:{url.host or '127.0.0.1'}:{url.port or 5432}"


def _seen_from(url: str, host: str, port: int) -> str:
    """``url`` of a database on the server, as the hosts reach it (through the forward)."""
    parsed = sa.make_url(url)
    query = {k: v for k, v in parsed.query.items() if k != "host"}
    return parsed.set(host=host, port=port, query=query).render_as_string(hide_password=False)


class Cluster:
    """The deployment; :meth:`close` (always, from a finaliser) removes every part of it."""

    def __init__(
        self, workdir: Path, pg_url: str, s3: services.S3Server, nights: Sequence[str], workers: int = 2
    ) -> None:
        self.workdir = workdir
        self.pg_url = pg_url
        self.s3 = s3
        self.network = Network(workdir)
        self.vhost = f"vseq-{self.network.token}"
        self.schema = services.new_schema_name("dist")
        self.databases: list[str] = []
        self.workers: list[Host] = []
        self.vhost_made = False
        try:
            self._services(nights)
            self._hosts(workers)
        except BaseException:
            self.close()
            raise

    # -- setting up -------------------------------------------------------------------------------

    def _services(self, nights: Sequence[str]) -> None:
        from vseq_resources.consdb.local import create_consdb_schema, fill_nights
        from vseq_resources.metadata.database import MetadataDatabase
        from vseq_tests.resources.consdb.synthetic import synthetic_night

        self.dagster_url = create_database(self.pg_url, "dagster_dist")
        self.databases.append(self.dagster_url)
        self.consdb_url = create_database(self.pg_url, "consdb_dist")
        self.databases.append(self.consdb_url)
        engine = sa.create_engine(self.consdb_url)
        try:
            create_consdb_schema(engine, INSTRUMENT)
            for i, night in enumerate(nights):
                fill_nights(engine, INSTRUMENT, synthetic_night(night, 40 + i, seed=i))
        finally:
            engine.dispose()
        MetadataDatabase.from_url(self.pg_url, self.schema, create=True).close()
        self.bucket = self.s3.create_bucket()
        _rabbitmqctl("add_vhost", self.vhost)
        self.vhost_made = True
        _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

        net = self.network
        pg_port = net.forward(_pg_target(self.pg_url))
        broker_port = net.forward(f"TCP:{BROKER[0]}:{BROKER[1]}")
        s3_port = net.forward(f"TCP:127.0.0.1:{self.s3.endpoint.rsplit(':', 1)[1]}")
        gw = net.gateway
        self.env = {
            "PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
            "VSEQ_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "VSEQ_DATABASE_URL": _seen_from(self.pg_url, gw, pg_port),
            "VSARCHIVE_PGSCHEMA": self.schema,
            "VSEQ_DAGSTER_PG_URL": _seen_from(self.dagster_url, gw, pg_port),
            "VSEQ_CONSDB_URL": _seen_from(self.consdb_url, gw, pg_port),
            "VSEQ_ARCHIVE_URI": f"s3://{self.bucket}/opsim/vseq/",
            "VSEQ_PRENIGHT_INDEX_URI": f"s3://{self.bucket}/prenight_index/",
            "VSEQ_IO_S3_BUCKET": self.bucket,
            **self.s3.env,
            "S3_ENDPOINT_URL": f"http://{gw}:{s3_port}",
            "VSEQ_EXECUTOR": "celery",
            "VSEQ_CELERY_BROKER_URL": f"amqp://guest:guest@{gw}:{broker_port}/{self.vhost}",
        }
        # The test's own view of Dagster's storage (as the UI would see it), from the root namespace.
        from vseq_tests.reliability.support import dagster_home

        self.observer_home = dagster_home(self.workdir / "observer_home")
        self._instance: Any = None

    def host_env(self, host: Host, **extra: str) -> dict[str, str]:
        """The environment of a process on ``host``: the shared services and the host's own dirs."""
        return {
            **self.env,
            "DAGSTER_HOME": str(host.home / "dagster_home"),
            "VSEQ_STATE_DIR": str(host.home / "state"),
            **extra,
        }

    def _hosts(self, workers: int) -> None:
        dagster_yaml = (REPO / "dagster.yaml").read_text()
        workspace = (
            "load_from:\n  - python_module:\n"
            f"      module_name: {LOCATION}\n      working_directory: {REPO}\n      location_name: vseq\n"
        )
        self.daemon = self.network.host("daemon")
        self.workspace = str(self.daemon.home / "workspace.yaml")
        self.daemon_files = {"dagster_home/dagster.yaml": dagster_yaml, "workspace.yaml": workspace}
        self._set_pools()
        self.daemon.start(
            [str(BIN / "dagster-daemon"), "run", "-w", self.workspace],
            self.host_env(self.daemon),
            "daemon",
            files=self.daemon_files,
        )
        for i in range(1, workers + 1):
            self.add_worker(f"worker-{i}")
        self.wait_for_workers(self.workers)
        self.reader = self.network.host("reader")

    def add_worker(self, name: str, **extra_env: str) -> Host:
        """A new worker host running one Celery worker (one step at a time); started, not awaited."""
        host = self.network.host(name)
        files = {"dagster_home/dagster.yaml": (REPO / "dagster.yaml").read_text()}
        command = worker_command(str(BIN / "celery"))
        host.start(command, self.host_env(host, **extra_env), "worker", files=files)
        self.workers.append(host)
        return host

    def wait_for_workers(self, hosts: Iterable[Host], timeout: float = 180) -> None:
        """Until each worker's log says it is ready (consuming from the broker)."""
        deadline = time.monotonic() + timeout
        for host in hosts:
            log = self.network.logs / f"{host.name}.worker.log"
            while WORKER_LOG_READY not in log.read_text(errors="replace"):
                if time.monotonic() > deadline or any(p.poll() is not None for p in host.processes):
                    raise RuntimeError(f"worker {host.name} did not start: {log.read_text()[-3000:]}")
                time.sleep(0.2)

    def _set_pools(self) -> None:
        from vseq_assets.completed import ARCHIVE_POOL
        from vseq_assets.consdb import CONSDB_POOL
        from vseq_assets.prenight import SIMULATION_POOL

        instance = self.instance()
        for pool in (ARCHIVE_POOL, CONSDB_POOL, SIMULATION_POOL):
            instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
            instance.event_log_storage.set_concurrency_slots(pool, 2)

    def instance(self) -> Any:
        """Dagster's instance seen from the root namespace (the same storage as the hosts')."""
        if self._instance is None:
            from dagster import DagsterInstance

            old = os.environ.get("VSEQ_DAGSTER_PG_URL")
            os.environ["VSEQ_DAGSTER_PG_URL"] = self.dagster_url  # read once, as the storage opens
            try:
                self._instance = DagsterInstance.from_config(str(self.observer_home))
            finally:
                if old is None:
                    os.environ.pop("VSEQ_DAGSTER_PG_URL")
                else:
                    os.environ["VSEQ_DAGSTER_PG_URL"] = old
        return self._instance

    # -- running ----------------------------------------------------------------------------------

    def backfill(self, job: str, partitions: Sequence[str]) -> str:
        """Launch a job backfill as a user would (``dagster job backfill``, on the daemon's host);
        its id. The daemon's run queue starts the runs."""
        out = self.daemon.run(
            [str(BIN / "dagster"), "job", "backfill", "-w", self.workspace, "-j", job,
             "--partitions", ",".join(partitions), "--noprompt"],
            self.host_env(self.daemon),
        )  # fmt: skip
        found = re.search(r"Launched backfill job `([^`]+)`", out)
        if not found:
            raise RuntimeError(f"no backfill id in: {out[-2000:]}")
        return found.group(1)

    def runs(self, backfill_id: str) -> list[Any]:
        from dagster import RunsFilter

        return list(self.instance().get_runs(RunsFilter(tags={"dagster/backfill": backfill_id})))

    def wait(self, backfill_id: str, count: int, timeout: float = 1200) -> list[Any]:
        """Until the backfill's ``count`` runs have ended; the runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(backfill_id)
            if len(runs) == count and all(run.is_finished for run in runs):
                return runs
            time.sleep(0.5)
        raise TimeoutError(
            f"backfill {backfill_id}: {[(r.run_id, r.status) for r in self.runs(backfill_id)]}"
        )

    def run_seconds(self, runs: Iterable[Any]) -> dict[str, float]:
        """Each run's duration from start to end (Dagster's records), by partition and job."""
        out = {}
        for run in runs:
            record = self.instance().get_run_record_by_id(run.run_id)
            key = f"{run.job_name}:{run.tags.get('dagster/partition')}"
            out[key] = round((record.end_time or 0) - (record.start_time or 0), 1)
        return out

    def run_failure(self, run_id: str) -> str:
        """The messages of a failed run's failure events (what the UI shows for it)."""
        from dagster import DagsterEventType

        messages = []
        for kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
            for record in self.instance().all_logs(run_id, of_type=kind):
                messages.append(record.message or record.dagster_event.message or "")
        return " | ".join(m for m in messages if m)

    def step_hosts(self, run_ids: Iterable[str]) -> list[tuple[str, str, str, float]]:
        """(run id, step key, Celery worker name, timestamp) of every step execution a worker began."""
        from dagster import DagsterEventType

        began = []
        for run_id in run_ids:
            for record in self.instance().all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
                event = record.dagster_event
                metadata = event.engine_event_data.metadata if event.engine_event_data else {}
                if "Celery worker" in metadata:
                    began.append(
                        (run_id, event.step_key, str(metadata["Celery worker"].value), record.timestamp)
                    )
        return began

    def read_from(self, host: Host, code: str) -> Any:
        """Run ``code`` (Python, prints one JSON value last) on ``host``; that value."""
        out = host.run([sys.executable, "-c", code], self.host_env(host))
        return json.loads(out.strip().splitlines()[-1])

    # -- cleaning up ------------------------------------------------------------------------------

    def close(self) -> None:
        """Every process, namespace, forward, database, schema and the broker's virtual host."""
        if getattr(self, "_instance", None) is not None:
            self._instance.dispose()
            self._instance = None
        self.network.close()
        if self.vhost_made:
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_vhost", self.vhost], capture_output=True, timeout=120
            )
        services.drop_schema(self.pg_url, self.schema)
        for url in self.databases:
            drop_database(self.pg_url, url)


def worker_of(name: str) -> str:
    """The worker host of a Celery worker name (``vseq@worker-1`` -> ``worker-1``: workers are
    named ``vseq@%h``, :func:`vseq_assets.celery.worker_command`)."""
    return name.split("@", 1)[1]


def new_token() -> str:
    return uuid.uuid4().hex[:6]
