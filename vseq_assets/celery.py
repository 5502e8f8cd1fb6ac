"""The Celery executor of the distributed mode, and the worker settings and command that match it.

With ``VSEQ_EXECUTOR=celery`` every run sends its steps as Celery tasks to the broker named by
``VSEQ_CELERY_BROKER_URL``; Celery workers on other hosts execute them (``docs/deployment.md``,
"Distributed mode"). The run process (on the host of the daemon and the code location) only
orchestrates. Both sides must use the same Celery settings, so both come from
:data:`CELERY_CONFIG`: the executor here, the workers through :mod:`vseq_assets.celery_app`,
the app :func:`worker_command` starts.

The workers do not use ``dagster-celery worker start``: it writes the resolved settings, the
broker URL and its password included, into a new Python file under ``DAGSTER_HOME`` at every
start (``dagster_celery/config/<uuid>/dagster_celery_config.py``, never removed). vseq's worker
app reads the URL from the environment in memory, so no secret reaches a worker's disk.
"""

from __future__ import annotations

import os
from typing import Any

from dagster import ExecutorDefinition

from vseq_resources.config import CELERY_BROKER_URL_ENV
from vseq_resources.errors import ConfigurationError

CELERY_CONFIG: dict[str, Any] = {
    # An env source: the broker URL may hold a password, which must not reach run records.
    "broker": {"env": CELERY_BROKER_URL_ENV},
    "backend": "rpc://",
    "config_source": {
        # A worker takes one step at a time and acknowledges it only when the step has ended:
        # if the worker's process dies mid-step (host lost, SIGKILL, OOM), the broker hands the
        # step to another worker instead of losing it. A step is one archive write at most, and
        # the archive's writes are atomic and reuse what an earlier attempt recorded, so a step
        # run again records nothing twice.
        "worker_prefetch_multiplier": 1,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "broker_connection_retry_on_startup": True,
    },
}
"""The executor's configuration, shared with the workers (:func:`worker_app_args`)."""


def celery_executor_definition() -> ExecutorDefinition:
    """Dagster's Celery executor with :data:`CELERY_CONFIG` (imported only in this mode)."""
    from dagster_celery import celery_executor

    return celery_executor.configured(CELERY_CONFIG, name="vseq_celery_executor")


WORKER_APP = "vseq_assets.celery_app"
"""The module of the workers' Celery app (``celery -A``)."""


def worker_app_args() -> dict[str, Any]:
    """The workers' Celery app settings: :data:`CELERY_CONFIG` with the broker URL read from the
    environment, as dagster-celery's own worker command would resolve it."""
    from dagster_celery.executor import CeleryExecutor

    broker = os.environ.get(CELERY_BROKER_URL_ENV)
    if not broker:
        raise ConfigurationError(f"a vseq Celery worker needs {CELERY_BROKER_URL_ENV} (the broker's URL)")
    settings = CeleryExecutor.for_cli(
        broker=broker, backend=CELERY_CONFIG["backend"], config_source=CELERY_CONFIG["config_source"]
    )
    return settings.app_args()


def worker_command(celery: str = "celery") -> list[str]:
    """One worker taking one step at a time from the ``dagster`` queue, named ``vseq@<host>``:
    what the distributed tests and ``docs/k8s-celery-workers.yaml`` run."""
    return [
        celery, "-A", WORKER_APP, "worker", "-Q", "dagster", "-n", "vseq@%h",
        "--concurrency=1", "--prefetch-multiplier=1", "--loglevel", "INFO",
    ]  # fmt: skip
