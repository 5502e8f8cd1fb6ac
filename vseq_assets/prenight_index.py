"""``<telescope>/prenight_index``: the JSON snapshots of the pre-night simulations, for readers
without database access (section 4 of the archive interface).

Partition D writes the snapshot of night D and of every later night covered by a pre-night
simulation that covers D (:func:`vseq_resources.prenight_snapshots.write_snapshots`): after the
afternoon's simulations the snapshots of D, D+1 and D+2 all list them. (A multi-partition write
was the alternative; Dagster would then show D+1 and D+2 as materialized by the run of D, before
their own simulations exist, which says the wrong thing.) Re-running a partition after new
simulations (or new tags, comments, files) brings every covered night up to date.

The asset check ``prenight_index_matches_database`` reads the snapshots back and compares them
with the database, night by night and simulation by simulation
(:func:`vseq_resources.prenight_snapshots.compare_snapshots`).
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import datetime as dt
import hashlib

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
from vseq_resources.prenight_snapshots import compare_snapshots, write_snapshots

from .keys import PRENIGHT_INDEX, PRENIGHT_METADATA, asset_key, group_name
from .partitions import prenight_partitions
from .reporting import store_link
from .run_tags import tag_run


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

        tag_run(context, telescope, "prenight")
        night = parse_dayobs(context.partition_key)
        vsa = archive.get_archive()
        written = write_snapshots(vsa, telescope, night)
        context.log.info("wrote %d snapshot(s): %s", len(written), ", ".join(written.values()))
        reader = ArchiveReader.for_archive(vsa)
        index = reader.prenight_index(night, telescope)
        text = _snapshot_text(written[night])
        return MaterializeResult(
            metadata={
                "url": store_link(written[night]),
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


def snapshots_check_result(nights: list[dt.date], problems: list[str]) -> AssetCheckResult:
    """The check's result from :func:`vseq_resources.prenight_snapshots.compare_snapshots`."""
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
        nights, problems = compare_snapshots(
            archive.get_archive(), telescope, parse_dayobs(context.partition_key)
        )
        return snapshots_check_result(nights, problems)

    return prenight_index_matches_database


def prenight_reader_definitions(telescope: str) -> Definitions:
    """The index snapshots, their check and the briefing of one telescope (merged into ``defs``)."""
    from .briefing import prenight_briefing_asset

    return Definitions(
        assets=[prenight_index_asset(telescope), prenight_briefing_asset(telescope)],
        asset_checks=[prenight_index_check(telescope)],
    )
