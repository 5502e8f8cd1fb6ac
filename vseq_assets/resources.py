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
- ``io_manager`` (the ``consdb_visits`` tables passed between steps): Dagster's default, pickles
  under ``$DAGSTER_HOME/storage``, unless ``VSEQ_IO_S3_BUCKET`` (+ ``VSEQ_IO_S3_PREFIX``) asks for
  S3, which a distributed run launcher needs (each run in its own container).
"""

from __future__ import annotations

from typing import Any

from vseq_resources.config import Settings
from vseq_resources.dagster_resources import (
    ArchiveResource,
    VseqArchiveIOManager,
    consdb_resource,
    prenight_resource,
)


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources of ``settings`` (default: read from the environment now)."""
    settings = settings or Settings.from_env()
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
