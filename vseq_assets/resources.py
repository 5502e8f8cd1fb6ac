"""The resources the definitions bind, chosen by the environment of the process that loads them.

- ``archive``: :class:`ArchiveResource`, configured like the CLI (``VSEQ_DATABASE_URL`` or
  ``VSARCHIVE_PG*``, ``VSARCHIVE_PGSCHEMA``, ``VSEQ_ARCHIVE_URI``, ``VSEQ_STATE_DIR``), read in the
  process running each step; nothing set means the embedded server and a local store.
- ``consdb``: REST (``VSEQ_CONSDB_REST_URL`` + ``VSEQ_CONSDB_TOKEN``), SQL (``VSEQ_CONSDB_URL``,
  optional ``VSEQ_CONSDB_PASSWORD``), else the local ConsDB; see
  :func:`~vseq_resources.dagster_resources.consdb_resource_from_env`.
- ``prenight``: :class:`~vseq_resources.dagster_resources.PrenightSimulationResource`, the
  scheduler configuration and the nights/variants to simulate (``VSEQ_PRENIGHT_SCHEDULER``,
  ``VSEQ_PRENIGHT_NIGHTS``, ``VSEQ_PRENIGHT_VARIANTS``, ``VSEQ_PRENIGHT_LOOKBACK_NIGHTS``).
- ``io_manager`` (the ``consdb_visits`` tables passed between steps): Dagster's default, pickles
  under ``$DAGSTER_HOME/storage``, unless ``VSEQ_IO_S3_BUCKET`` (+ ``VSEQ_IO_S3_PREFIX``) asks for
  S3, which a distributed run launcher needs (each run in its own container).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from vseq_resources.dagster_resources import (
    ArchiveResource,
    consdb_resource_from_env,
    prenight_resource_from_env,
)

IO_S3_BUCKET_ENV = "VSEQ_IO_S3_BUCKET"
IO_S3_PREFIX_ENV = "VSEQ_IO_S3_PREFIX"


def build_resources(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    resources: dict[str, Any] = {
        "archive": ArchiveResource(),
        "consdb": consdb_resource_from_env(env),
        "prenight": prenight_resource_from_env(env),
    }
    bucket = env.get(IO_S3_BUCKET_ENV)
    if bucket:
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        resources["io_manager"] = S3PickleIOManager(
            s3_resource=S3Resource(endpoint_url=env.get("S3_ENDPOINT_URL") or None),
            s3_bucket=bucket,
            s3_prefix=env.get(IO_S3_PREFIX_ENV) or "vseq-dagster-io",
        )
    return resources
