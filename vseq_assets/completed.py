"""The archived completed sequence of a night: ``visits.h5`` in the store and its ``completed`` row.

Both are declared assets, ``<telescope>/completed_visits`` (the file) and
``<telescope>/completed_metadata`` (the metadata row), produced by one multi-asset step that calls
:func:`vseq_resources.completed_night.archive_completed_night`: the archive writes the file,
verifies it, then inserts the row with its statistics in one transaction, so either both exist or
neither does. Re-materializing a night whose ConsDB content did not change records nothing new
(the library's idempotence rule); the materialization says which sequence it reused or superseded.

The step then checks what it archived (:mod:`vseq_assets.checks`: the file reads back, the row
points at it, the night has visits). A failed integrity check fails the step (blocking: nothing
downstream runs in that run) and marks the sequence ``check_failed`` in the archive, so it is never
pre-loaded or reused; an empty night is archived with ``empty_night`` metadata and a WARN check.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    AssetSpec,
    Backoff,
    DataVersion,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    multi_asset,
)

from vseq_resources.completed_night import COMPLETED_TABLE, CompletedNight, archive_completed_night
from vseq_resources.dagster_resources import ArchiveResource, ConsDBResource
from vseq_resources.dayobs import parse_dayobs
from vseq_resources.errors import is_transient
from vseq_resources.metadata.annotations import CHECK_FAILED_TAG

from .checks import completed_check_results, completed_check_specs, failed_blocking_checks
from .keys import COMPLETED_METADATA, COMPLETED_VISITS, CONSDB_VISITS, asset_key, group_name
from .partitions import completed_partitions
from .reporting import sql_block, store_link, visits_metadata
from .run_tags import tag_run

ARCHIVE_POOL = "archive"
"""Dagster pool of the steps that write to the archive."""

COMMENT_AUTHOR = "vseq-dagster"

ARCHIVE_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
"""Retries of a step that failed for a transient reason (store or database unreachable, connection
lost): after about 30 s, 60 s and 120 s. A failure that retrying cannot fix (bad visits, a
checksum mismatch, a missing privilege) fails at once: see
:func:`vseq_resources.errors.is_transient`. A failed attempt leaves nothing half-written (the
archive's record is atomic), so a retry starts clean."""


def _identity_metadata(result: CompletedNight) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "uuid": MetadataValue.text(str(result.uuid)),
        "url": store_link(result.url),
        "new_sequence": MetadataValue.bool(result.created),
        "status": MetadataValue.text(result.status),
        "visitseq_sha256": MetadataValue.text(result.visitseq_sha256.hex()),
    }
    if result.superseded is not None:
        metadata["supersedes"] = MetadataValue.text(str(result.superseded))
    return metadata


def completed_sequence_assets(
    telescope: str, retry_policy: RetryPolicy | None = ARCHIVE_RETRY_POLICY
) -> AssetsDefinition:
    """The multi-asset that archives one night of ``telescope``: file and metadata row.

    ``retry_policy`` applies to transient failures only
    (:func:`~vseq_resources.errors.is_transient`); others fail the step at once.
    """
    consdb_key = asset_key(telescope, CONSDB_VISITS)
    visits_key = asset_key(telescope, COMPLETED_VISITS)
    metadata_key = asset_key(telescope, COMPLETED_METADATA)

    @multi_asset(
        name=f"{telescope}_completed_sequence",
        specs=[
            AssetSpec(
                visits_key,
                deps=[consdb_key],
                partitions_def=completed_partitions,
                group_name=group_name(telescope),
                kinds={"hdf5"},
                description=f"visits.h5 of the night's completed {telescope} sequence, in the store.",
            ),
            AssetSpec(
                metadata_key,
                deps=[visits_key],
                partitions_def=completed_partitions,
                group_name=group_name(telescope),
                kinds={"postgres"},
                description=(
                    f"The `completed` metadata row of the night's {telescope} sequence: query text, "
                    "first/last day_obs, checksum and nightly statistics."
                ),
            ),
        ],
        check_specs=completed_check_specs(telescope),
        ins={"visits": AssetIn(consdb_key)},
        partitions_def=completed_partitions,
        pool=ARCHIVE_POOL,
        retry_policy=retry_policy,
    )
    def completed_sequence(
        context: AssetExecutionContext, visits: pd.DataFrame, archive: ArchiveResource, consdb: ConsDBResource
    ):
        tag_run(context, telescope, "completed")
        night = parse_dayobs(context.partition_key)
        query = consdb.night_query(telescope, night)
        comment = f"archived by Dagster run {context.run.run_id} from {consdb.describe()}"
        empty_reason = None
        try:
            if visits.empty:
                # An empty night (consdb_visits made sure ConsDB has ingested it): say why.
                empty_reason = consdb.night_ingestion(telescope, night).empty_reason()
                comment += f"; empty night: {empty_reason}"
            vsa = archive.get_archive()
            result = archive_completed_night(
                vsa, telescope, night, visits, query=query, comment=comment, comment_author=COMMENT_AUTHOR
            )
            checks = completed_check_results(vsa, telescope, night, result, empty_reason)
            failed = failed_blocking_checks(checks)
            if failed:
                vsa.metadata.mark_check_failed(result.uuid, failed, COMMENT_AUTHOR)
        except Exception as err:
            if is_transient(err):
                context.log.warning("transient failure, the step will be retried: %s", err)
                raise
            raise Failure(description=str(err), allow_retries=False) from err
        context.log.info("%s %s: %s", telescope, night, result.status)
        if failed:
            context.log.error(
                "%s %s: sequence %s failed %s; it is marked %s and will not be pre-loaded or reused",
                telescope,
                night,
                result.uuid,
                ", ".join(failed),
                CHECK_FAILED_TAG,
            )
        identity = _identity_metadata(result)
        empty = {"empty_night": MetadataValue.bool(empty_reason is not None)}
        if empty_reason is not None:
            empty["empty_night_reason"] = MetadataValue.text(empty_reason)
        version = DataVersion(result.visitseq_sha256.hex())
        yield MaterializeResult(
            asset_key=visits_key,
            metadata={**identity, **empty, **visits_metadata(visits)},
            data_version=version,
        )
        yield MaterializeResult(
            asset_key=metadata_key,
            metadata={
                **identity,
                **empty,
                "table": MetadataValue.text(COMPLETED_TABLE),
                "label": MetadataValue.text(result.label),
                "first_day_obs": MetadataValue.text(night.isoformat()),
                "last_day_obs": MetadataValue.text(night.isoformat()),
                "creation_time": MetadataValue.timestamp(result.creation_time),
                "visit_count": MetadataValue.int(result.n_visits),
                "query": sql_block(query),
            },
            data_version=version,
        )
        yield from checks

    return completed_sequence
