"""``<telescope>/night_review``: the completed night D against the pre-night simulation of D.

Partitioned by dayobs like the completed nights, downstream of ``<telescope>/completed_visits``
(and its ``completed_metadata`` row) and of ``<telescope>/prenight_sims`` (and the partition's
simulations, ``prenight_metadata``) of the same dayobs. All four are read through
:class:`~vseq_resources.dagster_resources.VseqArchiveIOManager` (the resource ``vseq_archive``),
the read path downstream code locations use, so the review reads exactly what they would: the
night's newest completed sequence, the partition's own nominal simulation. The other variants of
that run are read with the same reader (:func:`vseq_resources.readers.night_plan`), the review is
computed by :func:`vseq_resources.night_review.review_night`, its figures are archived next to
the completed sequence, its numbers are the materialization's metadata and its verdict line is in
the metadata, the log and the run's description of the asset.

It is part of each telescope's completed-night job (so the completed schedule's run reviews the
night it archived, after the blocking checks), and a backfill of any range of nights is one run
per night, as for the other completed assets. A night without a pre-night simulation is
reviewed as such (the ``prenight_sims`` input is None); a night not archived yet fails the step.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset functions when they are defined.

from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from vseq_resources.dagster_resources import ALLOW_MISSING, ArchiveResource
from vseq_resources.dayobs import parse_dayobs

from .keys import (
    COMPLETED_METADATA,
    COMPLETED_VISITS,
    NIGHT_REVIEW,
    PRENIGHT_METADATA,
    PRENIGHT_SIMS,
    asset_key,
    group_name,
)
from .partitions import completed_partitions
from .reporting import figures_markdown, store_link

VSEQ_ARCHIVE_IO = "vseq_archive"
"""Resource key of the vseq archive IO manager (bound by :func:`vseq_assets.resources.build_resources`)."""


def night_review_asset(telescope: str) -> AssetsDefinition:
    """The night review of ``telescope`` (one partition per dayobs)."""

    def read(name: str, **metadata: Any) -> AssetIn:
        return AssetIn(asset_key(telescope, name), input_manager_key=VSEQ_ARCHIVE_IO, metadata=metadata)

    @asset(
        key=asset_key(telescope, NIGHT_REVIEW),
        ins={
            "observed": read(COMPLETED_VISITS),
            "completed": read(COMPLETED_METADATA),
            "simulations": read(PRENIGHT_METADATA),
            "planned": read(PRENIGHT_SIMS, **{ALLOW_MISSING: True}),
        },
        partitions_def=completed_partitions,
        group_name=group_name(telescope),
        kinds={"png"},
        description=(
            f"The completed {telescope} night against its pre-night simulation: visits planned and "
            "observed (total, per band, per hour), time lost at the start and in gaps, the variant "
            "that best explains the night, planned fields observed and their drift in time, band "
            "time and band changes, twilights and the Moon; a one-line verdict. Figures archived "
            "next to the completed sequence."
        ),
    )
    def night_review(
        context: AssetExecutionContext,
        archive: ArchiveResource,
        observed: pd.DataFrame,
        completed: dict,
        simulations: pd.DataFrame,
        planned: pd.DataFrame | None,
    ) -> MaterializeResult:
        from vseq_resources.night_review import archive_review_figures, review_night
        from vseq_resources.night_review_figures import review_figures
        from vseq_resources.readers import ArchiveReader, night_plan

        night = parse_dayobs(context.partition_key)
        vsa = archive.get_archive()
        plan = None
        if planned is not None:
            plan = night_plan(ArchiveReader.for_archive(vsa), simulations, night, nominal_visits=planned)
        review = review_night(
            telescope, night, observed, plan, completed_uuid=str(completed["visitseq_uuid"])
        )
        review.figures = review_figures(review, plan, observed)
        urls = archive_review_figures(vsa, review)
        context.log.info(review.verdict)
        settings = archive.settings()
        http = {name: settings.http_url(url) for name, url in urls.items()}
        return MaterializeResult(metadata=review_metadata(review, urls, http))

    return night_review


def review_metadata(review: Any, urls: dict[str, str], http_urls: dict[str, str | None]) -> dict[str, Any]:
    """The review's numbers as materialization metadata (the verdict first, then the figures
    shown in place when a server serves the store over http)."""
    numbers = review.numbers()
    metadata: dict[str, Any] = {
        "verdict": MetadataValue.text(review.verdict),
        "figures": figures_markdown(http_urls),
        "status": MetadataValue.text(review.status),
        "observed_visits": MetadataValue.int(review.observed_visits),
        "planned_visits": MetadataValue.int(review.planned_visits)
        if review.planned_visits is not None
        else MetadataValue.text("no pre-night simulation"),
        "completed_uuid": MetadataValue.text(str(review.completed_uuid)),
        "simulation": MetadataValue.text(
            f"{review.plan_name} {review.plan_uuid} (its run: {review.plan_candidates} simulation(s))"
            if review.plan_uuid
            else "none: no pre-night simulation of this night"
        ),
        "best_variant": MetadataValue.text(review.best_variant or "-"),
        "bands": MetadataValue.md(_bands_table(review.bands)),
        "hours": MetadataValue.md(_hours_table(review.hours)),
        "timing": MetadataValue.json(numbers["timing"]),
        "matching": MetadataValue.json(numbers["matching"]),
        "band_changes": MetadataValue.json(numbers["band_changes"]),
        "variants": MetadataValue.json(numbers["variants"]),
        "almanac": MetadataValue.json(numbers["almanac"]),
    }
    for name, url in urls.items():
        metadata[f"{name}_url"] = store_link(url, http_urls[name])
    return metadata


def _bands_table(bands: dict[str, dict[str, Any]]) -> str:
    if not bands:
        return "no visits"
    lines = ["| band | planned | observed | planned min | observed min | time change |", "|---" * 6 + "|"]
    for band, row in bands.items():
        planned = "-" if row["planned"] is None else row["planned"]
        p_min = "-" if row["planned_seconds"] is None else f"{row['planned_seconds'] / 60:.0f}"
        change = "-" if row["time_change_pct"] is None else f"{row['time_change_pct']:+.0f} %"
        o_min = f"{row['observed_seconds'] / 60:.0f}"
        lines.append(f"| {band} | {planned} | {row['observed']} | {p_min} | {o_min} | {change} |")
    return "\n".join(lines)


def _hours_table(hours: list[dict[str, Any]]) -> str:
    if not hours:
        return "no visits"
    lines = ["| hour (UTC) | planned | observed |", "|---|---|---|"]
    for row in hours:
        planned = "-" if row["planned"] is None else row["planned"]
        lines.append(f"| {row['hour']} | {planned} | {row['observed']} |")
    return "\n".join(lines)
