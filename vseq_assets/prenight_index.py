"""``<telescope>/prenight_index``: the JSON snapshots of the pre-night simulations, for readers
without database access (section 4 of the archive interface).

Partition D writes the snapshot of night D and of every later night covered by a pre-night
simulation that covers D: a simulation made for D usually covers D..D+2, so after the afternoon's
simulations the snapshots of D, D+1 and D+2 all list them. (A multi-partition write was the
alternative; Dagster would then show D+1 and D+2 as materialized by the run of D, before their
own simulations exist, which says the wrong thing.) Nights before D are not touched: nothing made
for D covers them. The snapshots are rewritten whole, so re-running a partition after new
simulations (or new tags, comments, files) brings every covered night up to date.

The asset check ``prenight_index_matches_database`` reads the snapshots back and compares them
with the database, night by night and simulation by simulation.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetsDefinition,
    AutomationCondition,
    DataVersion,
    Definitions,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    asset_check,
)

from vseq_resources.dagster_resources import ArchiveResource
from vseq_resources.dayobs import parse_dayobs
from vseq_resources.metadata.schema import SIMULATIONS_EXTRA_COLUMNS

from .keys import PRENIGHT_INDEX, PRENIGHT_METADATA, asset_key, group_name
from .partitions import prenight_partitions

if TYPE_CHECKING:
    from vseq_resources.archive import VisitSequenceArchive

COMPARED_COLUMNS = (*(c for c in SIMULATIONS_EXTRA_COLUMNS if c != "visitseq_uuid"), "stats")
"""Every column of a snapshot row (the UUID is the row's index)."""


def nights_to_snapshot(archive: "VisitSequenceArchive", telescope: str, day_obs: dt.date) -> list[dt.date]:
    """Night D and every later night covered by a pre-night simulation that covers D."""
    from vseq_resources.prenight_index import MAX_SIMULATION_AGE_DAYS, PRENIGHT_TAGS

    sims = archive.metadata.prenight_simulations(
        day_obs, telescope, tags=PRENIGHT_TAGS, max_simulation_age=MAX_SIMULATION_AGE_DAYS
    )
    last = max([day_obs, *(d for d in sims["last_day_obs"] if d is not None)])
    return [day_obs + dt.timedelta(days=i) for i in range((last - day_obs).days + 1)]


def write_snapshots(archive: "VisitSequenceArchive", telescope: str, day_obs: dt.date) -> dict[dt.date, str]:
    """Write the snapshots the partition of ``day_obs`` is responsible for; night -> URL."""
    from vseq_resources.prenight_index import write_prenight_index

    return {
        night: write_prenight_index(archive, night, telescope)
        for night in nights_to_snapshot(archive, telescope, day_obs)
    }


def _index_table(index: pd.DataFrame) -> MetadataValue:
    schema = TableSchema(
        columns=[
            TableColumn("uuid", "string"),
            TableColumn("id", "string"),
            TableColumn("label", "string"),
            TableColumn("nights", "string"),
            TableColumn("tags", "string"),
        ]
    )
    records = [
        TableRecord(
            {
                "uuid": str(uuid),
                "id": f"{row['sim_creation_day_obs']} #{row['daily_id']}",
                "label": str(row["visitseq_label"]),
                "nights": f"{row['first_day_obs']}..{row['last_day_obs']}",
                "tags": ", ".join(row["tags"]),
            }
        )
        for uuid, row in index.iterrows()
    ]
    return MetadataValue.table(records=records, schema=schema)


def prenight_index_asset(telescope: str) -> AssetsDefinition:
    """The snapshot-writing asset of ``telescope``."""

    @asset(
        key=asset_key(telescope, PRENIGHT_INDEX),
        deps=[asset_key(telescope, PRENIGHT_METADATA)],
        partitions_def=prenight_partitions,
        group_name=group_name(telescope),
        kinds={"json"},
        automation_condition=AutomationCondition.eager(),
        description=(
            f"JSON snapshots of the {telescope} pre-night simulations covering the night (and the later "
            "nights they cover), at ${PRENIGHT_INDEX_URI}/<telescope>/<year>/<month>/"
            "<telescope>_prenights_for_<dayobs>.json, for readers that cannot reach the database."
        ),
    )
    def prenight_index(context: AssetExecutionContext, archive: ArchiveResource) -> MaterializeResult:
        from vseq_resources.readers import ArchiveReader

        night = parse_dayobs(context.partition_key)
        vsa = archive.get_archive()
        written = write_snapshots(vsa, telescope, night)
        context.log.info("wrote %d snapshot(s): %s", len(written), ", ".join(written.values()))
        reader = ArchiveReader.for_archive(vsa)
        index = reader.prenight_index(night, telescope)
        text = _snapshot_text(written[night])
        return MaterializeResult(
            metadata={
                "url": MetadataValue.url(written[night]),
                "nights_written": MetadataValue.text(", ".join(n.isoformat() for n in written)),
                "urls": MetadataValue.md("\n".join(f"- {n}: `{u}`" for n, u in written.items())),
                "simulation_count": MetadataValue.int(len(index)),
                "dagster/row_count": MetadataValue.int(len(index)),
                "simulations": _index_table(index),
            },
            data_version=DataVersion(hashlib.sha256(text.encode()).hexdigest()[:16]),
        )

    return prenight_index


def _snapshot_text(url: str) -> str:
    from lsst.resources import ResourcePath

    return ResourcePath(url).read().decode()


def _comparable(value: Any) -> Any:
    """One cell as plain JSON-like values, so that database and snapshot values compare."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _same(a: Any, b: Any) -> bool:
    """Equal, except that numbers need only agree to the 10 decimals snapshots keep (pandas'
    ``to_json`` default, which the reference format uses)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool | type(None)):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def compare_snapshot(archive: "VisitSequenceArchive", telescope: str, night: dt.date) -> list[str]:
    """Differences between the snapshot of ``night`` and the database (empty: they agree)."""
    from vseq_resources.prenight_index import (
        MAX_SIMULATION_AGE_DAYS,
        PRENIGHT_TAGS,
        prenight_index_path,
        read_prenight_index,
    )
    from vseq_resources.readers import normalize_prenight_index

    settings = archive.settings
    index_uri = settings.index_uri if settings is not None else None
    if index_uri is None:
        from vseq_resources.config import ArchiveSettings

        index_uri = ArchiveSettings.from_env().index_uri
    from lsst.resources import ResourcePath

    path = prenight_index_path(index_uri, night, telescope)
    database = normalize_prenight_index(
        archive.metadata.prenight_simulations(
            night, telescope, tags=PRENIGHT_TAGS, max_simulation_age=MAX_SIMULATION_AGE_DAYS, with_stats=True
        )
    )
    if not ResourcePath(path).exists():
        return [f"{night}: no snapshot at {path}"] if len(database) else []
    snapshot = normalize_prenight_index(read_prenight_index(index_uri, night, telescope))
    if len(database):
        # The snapshot format (pandas ISO dates, as the reference writes them) keeps milliseconds.
        database["creation_time"] = database["creation_time"].dt.floor("ms")
    problems = []
    for uuid in database.index.difference(snapshot.index):
        problems.append(f"{night}: simulation {uuid} is in the database but not in the snapshot")
    for uuid in snapshot.index.difference(database.index):
        problems.append(f"{night}: simulation {uuid} is in the snapshot but not in the database")
    for uuid in database.index.intersection(snapshot.index):
        for column in COMPARED_COLUMNS:
            db_value = _comparable(database.at[uuid, column])
            snap_value = _comparable(snapshot.at[uuid, column])
            if not _same(db_value, snap_value):
                problems.append(
                    f"{night}: {uuid} {column}: snapshot {_short(snap_value)}, database {_short(db_value)}"
                )
    return problems


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_snapshots(archive: "VisitSequenceArchive", telescope: str, night: dt.date) -> AssetCheckResult:
    """The check's evaluation: every snapshot partition ``night`` writes against the database."""
    nights = nights_to_snapshot(archive, telescope, night)
    problems = [p for n in nights for p in compare_snapshot(archive, telescope, n)]
    return AssetCheckResult(
        passed=not problems,
        description=(
            f"{len(nights)} snapshot(s) agree with the database"
            if not problems
            else f"{len(problems)} difference(s) between the snapshots and the database"
        ),
        metadata={
            "nights": MetadataValue.text(", ".join(n.isoformat() for n in nights)),
            "differences": MetadataValue.md("\n".join(f"- {p}" for p in problems[:50]) or "none"),
        },
    )


def prenight_index_check(telescope: str) -> AssetChecksDefinition:
    key = asset_key(telescope, PRENIGHT_INDEX)

    @asset_check(
        asset=key,
        name="prenight_index_matches_database",
        partitions_def=prenight_partitions,
        description="Each snapshot the partition writes lists exactly the database's pre-night "
        "simulations of its night, with the same values.",
    )
    def prenight_index_matches_database(
        context: AssetCheckExecutionContext, archive: ArchiveResource
    ) -> AssetCheckResult:
        return check_snapshots(archive.get_archive(), telescope, parse_dayobs(context.partition_key))

    return prenight_index_matches_database


def prenight_reader_definitions(telescope: str) -> Definitions:
    """The index snapshots, their check and the briefing of one telescope (merged into ``defs``)."""
    from .briefing import prenight_briefing_asset

    return Definitions(
        assets=[prenight_index_asset(telescope), prenight_briefing_asset(telescope)],
        asset_checks=[prenight_index_check(telescope)],
    )
