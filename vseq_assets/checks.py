"""Asset checks of the archived completed sequences: what the store and the database hold now.

Both checks look at the sequence the asset partition's newest materialization names (its
``uuid`` metadata), or, when Dagster has no record of one (a check run on its own against an
archive filled elsewhere), at the newest completed sequence covering that night
(:meth:`~vseq_resources.metadata.completed.CompletedSequences.newest_completed`).
They are blocking: a downstream step (a pre-night simulation pre-loading these visits) does not
run on a sequence that failed them.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetKey,
    MetadataValue,
    asset_check,
)

from vseq_resources.completed_night import COMPLETED_TABLE
from vseq_resources.dagster_resources import ArchiveResource
from vseq_resources.dayobs import parse_dayobs

from .keys import COMPLETED_METADATA, COMPLETED_VISITS, asset_key
from .partitions import completed_partitions
from .recorded import materialized_metadata

if TYPE_CHECKING:
    from vseq_resources.archive import VisitSequenceArchive


def _checked_sequence(
    context: AssetCheckExecutionContext, archive: ArchiveResource, key: AssetKey, telescope: str
) -> "tuple[VisitSequenceArchive, uuidlib.UUID, dict[str, Any]] | AssetCheckResult":
    """The archive, the sequence to check and what Dagster recorded; a failure when there is none.

    The sequence is the one the partition's newest materialization names, else the newest
    completed sequence covering that night (the metadata layer's one answer).
    """
    night = parse_dayobs(context.partition_key)
    vsa = archive.get_archive()
    recorded = materialized_metadata(context, key)
    if recorded.get("uuid"):
        return vsa, uuidlib.UUID(str(recorded["uuid"])), recorded
    newest = vsa.metadata.newest_completed(telescope, night)
    if newest is None:
        return _failure(f"no completed {telescope} sequence with stored visits covers {night}")
    return vsa, newest["visitseq_uuid"], recorded


def _failure(description: str, **metadata: Any) -> AssetCheckResult:
    return AssetCheckResult(passed=False, description=description, metadata=metadata)


def visits_file_check(telescope: str) -> AssetChecksDefinition:
    """The stored ``visits.h5`` reads back with the recorded checksum, row count and content hash."""
    key = asset_key(telescope, COMPLETED_VISITS)

    @asset_check(
        asset=key,
        name="visits_file_reads_back",
        partitions_def=completed_partitions,
        blocking=True,
        description="visits.h5 reads back with the recorded checksum, row count and content hash.",
    )
    def visits_file_reads_back(
        context: AssetCheckExecutionContext, archive: ArchiveResource
    ) -> AssetCheckResult:
        from vseq_resources.stored_visits import read_stored_visits
        from vseq_resources.visits import visits_content_hash

        checked = _checked_sequence(context, archive, key, telescope)
        if isinstance(checked, AssetCheckResult):
            return checked
        vsa, seq_uuid, recorded = checked
        url, expected_sha = vsa.metadata.get_visits_file(seq_uuid)
        if not url:
            return _failure(f"sequence {seq_uuid} has no stored visits", uuid=str(seq_uuid))
        meta = vsa.get_metadata(seq_uuid)
        problems = []
        try:
            # The one verified read path: the recorded checksum is checked before parsing. A file
            # without one (an adopted reference archive) is read with a warning; the metadata says so.
            visits = read_stored_visits(url, expected_sha, sequence=seq_uuid)
        except Exception as err:  # noqa: BLE001 - any failure to read back is what this check reports
            problems.append(f"{url} cannot be read back: {' '.join(str(err).split())}")
            return _failure("; ".join(problems), uuid=str(seq_uuid), url=MetadataValue.url(url))
        expected_rows = recorded.get("visit_count")
        if expected_rows is not None and len(visits) != int(expected_rows):
            problems.append(f"{len(visits)} rows read back, {expected_rows} recorded")
        content_sha = visits_content_hash(visits)
        if content_sha != bytes(meta["visitseq_sha256"]):
            problems.append("content hash of the visits read back differs from visitseq_sha256")
        metadata = {
            "uuid": MetadataValue.text(str(seq_uuid)),
            "url": MetadataValue.url(url),
            "rows_read": MetadataValue.int(len(visits)),
            "file_sha256": MetadataValue.text(expected_sha.hex() if expected_sha else "(none recorded)"),
            "file_checksum_recorded": MetadataValue.bool(expected_sha is not None),
        }
        if problems:
            return AssetCheckResult(passed=False, description="; ".join(problems), metadata=metadata)
        return AssetCheckResult(passed=True, description="visits.h5 matches its record", metadata=metadata)

    return visits_file_reads_back


def metadata_row_check(telescope: str) -> AssetChecksDefinition:
    """The ``completed`` row exists, covers the night, and points at a stored ``visits.h5``."""
    key = asset_key(telescope, COMPLETED_METADATA)

    @asset_check(
        asset=key,
        name="metadata_row_points_at_visits",
        partitions_def=completed_partitions,
        blocking=True,
        description="The completed row exists for the night and its visitseq_url names the stored visits.h5.",
    )
    def metadata_row_points_at_visits(
        context: AssetCheckExecutionContext, archive: ArchiveResource
    ) -> AssetCheckResult:
        from vseq_resources.errors import NotFoundError

        checked = _checked_sequence(context, archive, key, telescope)
        if isinstance(checked, AssetCheckResult):
            return checked
        vsa, seq_uuid, recorded = checked
        night = parse_dayobs(context.partition_key)
        try:
            row = vsa.get_metadata(seq_uuid, table=COMPLETED_TABLE)
        except NotFoundError:
            return _failure(f"no completed row for {seq_uuid}", uuid=str(seq_uuid))
        problems = []
        if row.get("telescope") != telescope:
            problems.append(f"telescope is {row.get('telescope')!r}")
        first, last = row.get("first_day_obs"), row.get("last_day_obs")
        if first is None or last is None or not first <= night <= last:
            problems.append(f"first_day_obs..last_day_obs is {first}..{last}: it does not cover {night}")
        if not row.get("query"):
            problems.append("no query text")
        url = row.get("visitseq_url")
        if not url:
            problems.append("visitseq_url is empty")
        else:
            if recorded.get("url") and recorded["url"] != url:
                problems.append(f"visitseq_url {url} is not the materialized {recorded['url']}")
            if not vsa.store.exists(url):
                problems.append(f"nothing is stored at {url}")
        metadata = {"uuid": MetadataValue.text(str(seq_uuid))}
        if url:
            metadata["url"] = MetadataValue.url(url)
        if problems:
            return AssetCheckResult(passed=False, description="; ".join(problems), metadata=metadata)
        return AssetCheckResult(
            passed=True, description="the completed row points at the stored visits", metadata=metadata
        )

    return metadata_row_points_at_visits


def completed_checks(telescope: str) -> list[AssetChecksDefinition]:
    return [visits_file_check(telescope), metadata_row_check(telescope)]
