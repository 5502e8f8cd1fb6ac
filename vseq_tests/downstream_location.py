"""A downstream code location of its own, as a user of vseq's archive would write it.

vseq's assets are declared as ``AssetSpec`` s (this location does not materialize them) whose
values the vseq archive IO manager loads from the archive; two report assets depend on them.
Load it with ``dagster dev -m vseq_tests.downstream_location`` next to vseq's own location. The
archive is the one the environment describes (``VSEQ_DATABASE_URL``, ``VSARCHIVE_PGSCHEMA``,
``VSEQ_ARCHIVE_URI``, ``VSEQ_PRENIGHT_INDEX_URI``...).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import AssetIn, AssetSpec, Definitions, asset, define_asset_job

from vseq_assets.partitions import completed_partitions, prenight_partitions
from vseq_resources.dagster_resources import ArchiveResource, VseqArchiveIOManager

TELESCOPE = "simonyi"
VSEQ_IO_MANAGER = "vseq_archive"


def _spec(name: str, partitions: Any) -> AssetSpec:
    return AssetSpec([TELESCOPE, name], partitions_def=partitions).with_io_manager_key(VSEQ_IO_MANAGER)


VSEQ_ASSETS = [
    *(
        _spec(name, completed_partitions)
        for name in ("consdb_visits", "completed_visits", "completed_metadata")
    ),
    *(
        _spec(name, prenight_partitions)
        for name in ("prenight_sims", "prenight_metadata", "prenight_index", "prenight_briefing")
    ),
]


@asset(
    partitions_def=completed_partitions,
    ins={
        "visits": AssetIn([TELESCOPE, "completed_visits"]),
        "row": AssetIn([TELESCOPE, "completed_metadata"]),
    },
)
def night_report(visits: pd.DataFrame, row: dict[str, Any]) -> pd.DataFrame:
    """Visits per band of a completed night, with the sequence they come from."""
    counts = visits.groupby("band").size().rename("visits").reset_index()
    counts["visitseq_uuid"] = str(row["visitseq_uuid"])
    return counts


@asset(
    partitions_def=prenight_partitions,
    ins={
        "planned": AssetIn([TELESCOPE, "prenight_sims"]),
        "index": AssetIn([TELESCOPE, "prenight_index"]),
        "simulations": AssetIn([TELESCOPE, "prenight_metadata"]),
        "figures": AssetIn([TELESCOPE, "prenight_briefing"]),
    },
)
def plan_report(
    planned: pd.DataFrame, index: pd.DataFrame, simulations: pd.DataFrame, figures: dict[str, str]
) -> dict[str, Any]:
    """What the night's pre-night simulation plans, and where its briefing figures are."""
    return {
        "planned_visits": len(planned),
        "simulations_covering_the_night": len(index),
        "simulations_of_the_partition": sorted(simulations.index),
        "figures": figures,
    }


defs = Definitions(
    assets=[*VSEQ_ASSETS, night_report, plan_report],
    jobs=[
        define_asset_job("night_report_job", [night_report]),
        define_asset_job("plan_report_job", [plan_report]),
    ],
    resources={VSEQ_IO_MANAGER: VseqArchiveIOManager(archive=ArchiveResource())},
)
