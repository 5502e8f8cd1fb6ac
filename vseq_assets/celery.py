"""The Celery executor of the distributed mode, and the worker configuration that matches it.

With ``VSEQ_EXECUTOR=celery`` every run sends its steps as Celery tasks to the broker named by
``VSEQ_CELERY_BROKER_URL``; ``dagster-celery worker start`` processes on other hosts execute
them (``docs/deployment.md``, "Distributed mode"). The run process (on the host of the daemon and
the code location) only orchestrates. Both sides must use the same Celery settings, so both
come from :data:`CELERY_CONFIG`: the executor here, the workers through the YAML file
``python -m vseq_assets.celery > celery.yaml`` writes.
"""

from __future__ import annotations

import sys
from typing import Any

from dagster import ExecutorDefinition

from vseq_resources.config import CELERY_BROKER_URL_ENV

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
"""The executor's configuration, shared with the workers (``dagster-celery worker start -y``)."""


def celery_executor_definition() -> ExecutorDefinition:
    """Dagster's Celery executor with :data:`CELERY_CONFIG` (imported only in this mode)."""
    from dagster_celery import celery_executor

    return celery_executor.configured(CELERY_CONFIG, name="vseq_celery_executor")


def worker_config_yaml() -> str:
    """The YAML file ``dagster-celery worker start -y`` reads: the same settings as the executor."""
    import yaml

    return yaml.safe_dump({"execution": {"config": CELERY_CONFIG}}, sort_keys=False)


if __name__ == "__main__":
    sys.stdout.write(worker_config_yaml())
