"""The Celery app of vseq's workers (``celery -A vseq_assets.celery_app worker``; see
:func:`vseq_assets.celery.worker_command`).

dagster-celery's own app module (``dagster_celery.app``) takes its settings from a file its
``worker start`` command writes, broker URL included; this one is built in memory from
:data:`vseq_assets.celery.CELERY_CONFIG` and the environment, with dagster-celery's own tasks, so
it executes exactly what the executor sends.
"""

from __future__ import annotations

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

from vseq_assets.celery import worker_app_args

app = make_app(worker_app_args())

execute_plan = create_task(app)

execute_job = create_execute_job_task(app)

resume_job = create_resume_job_task(app)
