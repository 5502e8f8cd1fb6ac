"""The resources the definitions bind, built from the settings of the process that loads them.

Every value comes from :class:`vseq_resources.config.Settings` (the environment, read once) and
is set on the resource's fields, so the Dagster UI shows what a run uses; secrets are bound as
``EnvVar`` and read only when a step runs.

- ``archive``: :class:`~vseq_resources.dagster_resources.ArchiveResource` (the archive the CLI
  would open: ``VSEQ_DATABASE_URL`` or ``VSARCHIVE_PG*``, ``VSARCHIVE_PGSCHEMA``,
  ``VSEQ_ARCHIVE_URI``, ``VSEQ_PRENIGHT_INDEX_URI``, ``VSEQ_STATE_DIR``).
- ``consdb``: REST, SQL or the local demo ConsDB
  (:func:`~vseq_resources.dagster_resources.consdb_resource`).
- ``prenight``: :class:`~vseq_resources.dagster_resources.PrenightSimulationResource`
  (``VSEQ_PRENIGHT_*``).
- ``vseq_archive``: :class:`~vseq_resources.dagster_resources.VseqArchiveIOManager` on the same
  archive, the input manager through which ``night_review`` reads the archived partitions.
- ``io_manager`` (the ``consdb_visits`` tables passed between steps, the only step output that
  goes through it: every other step reads its inputs from the archive): Dagster's default, pickles
  under ``$DAGSTER_HOME/storage``, unless ``VSEQ_IO_S3_BUCKET`` (+ ``VSEQ_IO_S3_PREFIX``) asks for
  Dagster's own ``S3PickleIOManager``, which steps on other hosts need (a run launcher that starts
  each run in its own container, the Celery executor). Credentials are boto's own
  (``AWS_ACCESS_KEY_ID``..., a profile or an instance role), the endpoint ``S3_ENDPOINT_URL``.
  Setting it says that steps may run on other hosts, so settings that keep something on one
  host's disk (:meth:`~vseq_resources.config.Settings.host_local`) are refused then.
"""

from __future__ import annotations

from typing import Any

from vseq_resources.config import IO_S3_BUCKET_ENV, Settings
from vseq_resources.dagster_resources import (
    ArchiveResource,
    VseqArchiveIOManager,
    consdb_resource,
    prenight_resource,
)
from vseq_resources.errors import ConfigurationError


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources of ``settings`` (default: read from the environment now)."""
    settings = settings or Settings.from_env()
    if settings.dagster.io_s3_bucket:
        local = settings.host_local()
        if local:
            raise ConfigurationError(
                f"{IO_S3_BUCKET_ENV} is set (steps may run on other hosts), but " + "; ".join(local)
            )
    archive = ArchiveResource.from_settings(settings.archive)
    resources: dict[str, Any] = {
        "archive": archive,
        "vseq_archive": VseqArchiveIOManager(archive=archive),
        "consdb": consdb_resource(settings.consdb, settings.archive.state_dir),
        "prenight": prenight_resource(settings.prenight),
    }
    if settings.dagster.io_s3_bucket:
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        resources["io_manager"] = S3PickleIOManager(
            s3_resource=S3Resource(endpoint_url=settings.dagster.s3_endpoint_url),
            s3_bucket=settings.dagster.io_s3_bucket,
            s3_prefix=settings.dagster.io_s3_prefix,
        )
    return resources
