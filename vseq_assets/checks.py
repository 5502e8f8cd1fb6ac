"""Checks of the archived completed sequence of a night, evaluated by the archiving step itself.

They are ``check_specs`` of the multi-asset (:func:`completed_check_specs`), so they run in the
step that archived the sequence, right after it:

- ``visits_file_reads_back`` (``completed_visits``, blocking) and
  ``metadata_row_points_at_visits`` (``completed_metadata``, blocking): what the library's
  :mod:`vseq_resources.completed_checks` verifies. A failure fails the step, so nothing downstream
  runs in that run, and marks the sequence ``check_failed`` in the archive, so no later run
  pre-loads it, reads it as the night's visits or reuses it (a re-run records the night afresh);
- ``night_has_visits`` (``completed_visits``, WARN severity): fails, visibly but without
  blocking, when ConsDB has ingested the night and has no visit of it (an empty night: weather,
  shutdown); the reason is in the materialization metadata (``empty_night``,
  ``empty_night_reason``).
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import datetime as dt
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from .keys import COMPLETED_METADATA, COMPLETED_VISITS, asset_key
from .reporting import store_link

if TYPE_CHECKING:
    from vseq_resources.archive import VisitSequenceArchive
    from vseq_resources.completed_night import CompletedNight

VISITS_FILE_CHECK = "visits_file_reads_back"
METADATA_ROW_CHECK = "metadata_row_points_at_visits"
NIGHT_HAS_VISITS_CHECK = "night_has_visits"


def completed_check_specs(telescope: str) -> list[AssetCheckSpec]:
    """The checks the completed-night step evaluates (see the module docstring)."""
    visits_key = asset_key(telescope, COMPLETED_VISITS)
    return [
        AssetCheckSpec(
            VISITS_FILE_CHECK,
            asset=visits_key,
            blocking=True,
            description="visits.h5 reads back with the recorded checksum, row count and content hash.",
        ),
        AssetCheckSpec(
            METADATA_ROW_CHECK,
            asset=asset_key(telescope, COMPLETED_METADATA),
            blocking=True,
            description=(
                "The completed row exists for the night and its visitseq_url names the stored visits.h5."
            ),
        ),
        AssetCheckSpec(
            NIGHT_HAS_VISITS_CHECK,
            asset=visits_key,
            description=(
                "Warns when ConsDB has ingested the night but has no visit of it (an empty night, "
                "archived as such: weather, engineering, shutdown)."
            ),
        ),
    ]


def completed_check_results(
    archive: "VisitSequenceArchive",
    telescope: str,
    night: dt.date,
    result: "CompletedNight",
    empty_reason: str | None,
) -> list[AssetCheckResult]:
    """Evaluate the checks on the sequence just archived (or reused) for ``night``."""
    from vseq_resources.completed_checks import metadata_row_problems, visits_file_problems

    identity: dict[str, Any] = {"uuid": MetadataValue.text(str(result.uuid))}
    problems, read = visits_file_problems(archive, result.uuid, result.n_visits)
    file_metadata = dict(identity)
    if read.get("url"):
        file_metadata["url"] = store_link(read["url"])
    if "rows_read" in read:
        file_metadata["rows_read"] = MetadataValue.int(read["rows_read"])
    file_metadata["file_sha256"] = MetadataValue.text(read.get("file_sha256") or "(none recorded)")
    file_metadata["file_checksum_recorded"] = MetadataValue.bool(bool(read.get("file_sha256")))
    row_problems = metadata_row_problems(archive, result.uuid, telescope, night, result.url)
    return [
        _result(
            VISITS_FILE_CHECK,
            telescope,
            COMPLETED_VISITS,
            problems,
            "visits.h5 matches its record",
            file_metadata,
        ),
        _result(
            METADATA_ROW_CHECK,
            telescope,
            COMPLETED_METADATA,
            row_problems,
            "the completed row points at the stored visits",
            identity,
        ),
        AssetCheckResult(
            asset_key=asset_key(telescope, COMPLETED_VISITS),
            check_name=NIGHT_HAS_VISITS_CHECK,
            passed=result.n_visits > 0,
            severity=AssetCheckSeverity.WARN,
            description=(f"{result.n_visits} visits" if result.n_visits else f"empty night: {empty_reason}"),
            metadata={**identity, "visit_count": MetadataValue.int(result.n_visits)},
        ),
    ]


def failed_blocking_checks(results: list[AssetCheckResult]) -> dict[str, str]:
    """Check name -> description of the failed checks that block (ERROR severity)."""
    return {
        r.check_name or "": r.description or ""
        for r in results
        if not r.passed and r.severity == AssetCheckSeverity.ERROR
    }


def _result(
    name: str, telescope: str, asset: str, problems: list[str], passed: str, metadata: dict[str, Any]
) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=asset_key(telescope, asset),
        check_name=name,
        passed=not problems,
        description="; ".join(problems) if problems else passed,
        metadata=metadata,
    )
