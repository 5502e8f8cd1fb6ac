"""The archived completed sequence of a night: ``visits.h5`` in the store and its ``completed`` row.

Both are declared assets, ``<telescope>/completed_visits`` (the file) and
``<telescope>/completed_metadata`` (the metadata row), produced by one multi-asset step: the
archive writes the file, verifies it, then inserts the row with its statistics in one
transaction, so either both exist or neither does.

Idempotence: a completed sequence is a fact about a night, so re-materializing a partition whose
ConsDB content did not change records nothing new: the newest ``completed`` sequence of that
telescope and night is reused when its content hash (``visitseq_sha256``, the reproducible hash of
:func:`vseq_resources.visits.visits_content_hash`) equals that of the visits just fetched. When the
content changed (late quick-look values, a re-processed night), a new sequence is recorded; the
materialization says which sequence it supersedes. Only the newest is compared, so content that
changes back to an older state gives a new sequence again: the newest sequence of a night is
always the current truth.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import datetime as dt
import hashlib
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

from vseq_resources.dagster_resources import ArchiveResource, ConsDBResource
from vseq_resources.dayobs import parse_dayobs

from .keys import COMPLETED_METADATA, COMPLETED_VISITS, CONSDB_VISITS, asset_key, group_name
from .partitions import completed_partitions
from .reporting import sql_block, visits_metadata

if TYPE_CHECKING:
    from vseq_resources.archive import VisitSequenceArchive

COMPLETED_TABLE = "completed"
ARCHIVE_POOL = "archive"
"""Dagster pool of the steps that write to the archive."""

COMPLETED_STATS_COLUMNS: tuple[str, ...] = (
    "altitude",
    "azimuth",
    "airmass",
    "seeingFwhmEff",
    "fiveSigmaDepth",
    "skyBrightness",
)
"""Per-visit values whose nightly statistics are stored with each completed sequence: the
reference's defaults (altitude, azimuth) and the image-quality values the briefing plots."""

COMMENT_AUTHOR = "vseq-dagster"

ARCHIVE_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
"""Retries of a step that failed for a transient reason (store or database unreachable, connection
lost): after about 30 s, 60 s and 120 s. A failure that retrying cannot fix (bad visits, a
checksum mismatch, a missing privilege) fails at once: see :func:`is_transient`. A failed attempt
leaves nothing half-written (the archive's record is atomic), so a retry starts clean."""


def is_transient(err: BaseException) -> bool:
    """Whether retrying later may succeed: the store or the database was unreachable."""
    import sqlalchemy as sa

    from vseq_resources.errors import DatabaseUnavailableError, IntegrityError, StoreError

    if isinstance(err, DatabaseUnavailableError):
        return True
    if isinstance(err, StoreError) and not isinstance(err, IntegrityError):
        # The store layer's own failure (connection refused, timeout, 5xx), not a refusal of
        # ours such as "exists with different content" (which carries no cause).
        return err.__cause__ is not None
    if isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    return isinstance(err, sa.exc.DBAPIError) and err.connection_invalidated


@dataclass(frozen=True)
class CompletedNight:
    """The completed sequence of one night after archiving: new, or the unchanged existing one."""

    uuid: uuidlib.UUID
    url: str | None
    telescope: str
    day_obs: dt.date
    n_visits: int
    visitseq_sha256: bytes
    label: str
    creation_time: dt.datetime
    created: bool
    superseded: uuidlib.UUID | None = None

    @property
    def status(self) -> str:
        if not self.created:
            return f"unchanged: ConsDB content equals sequence {self.uuid}; nothing new recorded"
        if self.superseded is not None:
            return (
                f"changed: ConsDB content differs from sequence {self.superseded}; "
                f"recorded new sequence {self.uuid}"
            )
        return f"new: first completed sequence of {self.telescope} {self.day_obs}"


def completed_label(telescope: str, day_obs: dt.date) -> str:
    return f"Completed {telescope} visits of {day_obs.isoformat()}"


def archive_completed_night(
    archive: "VisitSequenceArchive",
    telescope: str,
    day_obs: str | int | dt.date,
    visits: pd.DataFrame,
    *,
    query: str,
    comment: str | None = None,
) -> CompletedNight:
    """Record one night's completed visits unless the newest sequence of that night has them."""
    from vseq_resources.visits import visits_content_hash

    night = parse_dayobs(day_obs)
    sha256 = visits_content_hash(visits)
    with night_lock(archive, telescope, night):
        return _archive_unless_unchanged(archive, telescope, night, visits, sha256, query, comment)


@contextmanager
def night_lock(archive: "VisitSequenceArchive", telescope: str, night: dt.date) -> Iterator[None]:
    """Serialize archiving of one (telescope, night) across processes: a PostgreSQL advisory lock.

    Two runs of the same partition at once (a backfill overlapping the schedule) would otherwise
    both find no sequence with their content and both record one.
    """
    import sqlalchemy as sa

    name = f"vseq completed {archive.metadata.schema} {telescope} {night.isoformat()}".encode()
    key = int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)
    with archive.metadata.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


def _archive_unless_unchanged(
    archive: "VisitSequenceArchive",
    telescope: str,
    night: dt.date,
    visits: pd.DataFrame,
    sha256: bytes,
    query: str,
    comment: str | None,
) -> CompletedNight:
    from vseq_resources.visits import compute_nightly_stats

    previous = archive.find_sequences(
        COMPLETED_TABLE, telescope=telescope, first_day_obs=night, last_day_obs=night
    )
    newest = previous[0] if previous else None
    if newest is not None and bytes(newest["visitseq_sha256"]) == sha256 and newest.get("visitseq_url"):
        return CompletedNight(
            uuid=newest["visitseq_uuid"],
            url=newest["visitseq_url"],
            telescope=telescope,
            day_obs=night,
            n_visits=len(visits),
            visitseq_sha256=sha256,
            label=newest["visitseq_label"],
            creation_time=newest["creation_time"],
            created=False,
        )
    stats = compute_nightly_stats(visits, columns=COMPLETED_STATS_COLUMNS, day_obs=night)
    recorded = archive.record_sequence(
        COMPLETED_TABLE,
        visits,
        label=completed_label(telescope, night),
        telescope=telescope,
        first_day_obs=night,
        last_day_obs=night,
        nightly_stats=stats,
        comments=[(COMMENT_AUTHOR, comment)] if comment else (),
        query=query,
    )
    return CompletedNight(
        uuid=recorded.uuid,
        url=recorded.visitseq_url,
        telescope=telescope,
        day_obs=night,
        n_visits=recorded.n_visits,
        visitseq_sha256=recorded.visitseq_sha256,
        label=recorded.label,
        creation_time=recorded.creation_time,
        created=True,
        superseded=newest["visitseq_uuid"] if newest is not None else None,
    )


def _identity_metadata(result: CompletedNight) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "uuid": MetadataValue.text(str(result.uuid)),
        "url": MetadataValue.url(result.url) if result.url else MetadataValue.text("(not stored)"),
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

    ``retry_policy`` applies to transient failures only (:func:`is_transient`); others fail the
    step at once.
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
        ins={"visits": AssetIn(consdb_key)},
        partitions_def=completed_partitions,
        pool=ARCHIVE_POOL,
        retry_policy=retry_policy,
    )
    def completed_sequence(
        context: AssetExecutionContext, visits: pd.DataFrame, archive: ArchiveResource, consdb: ConsDBResource
    ):
        night = parse_dayobs(context.partition_key)
        query = consdb.night_query(telescope, night)
        try:
            result = archive_completed_night(
                archive.get_archive(),
                telescope,
                night,
                visits,
                query=query,
                comment=f"archived by Dagster run {context.run.run_id} from {consdb.describe()}",
            )
        except Exception as err:
            if is_transient(err):
                context.log.warning("transient failure, the step will be retried: %s", err)
                raise
            raise Failure(description=str(err), allow_retries=False) from err
        context.log.info("%s %s: %s", telescope, night, result.status)
        identity = _identity_metadata(result)
        version = DataVersion(result.visitseq_sha256.hex())
        yield MaterializeResult(
            asset_key=visits_key,
            metadata={**identity, **visits_metadata(visits)},
            data_version=version,
        )
        yield MaterializeResult(
            asset_key=metadata_key,
            metadata={
                **identity,
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

    return completed_sequence
