"""``<telescope>/prenight_briefing``: figures of the night's nominal pre-night simulation.

Built as a downstream report builds it, through :mod:`vseq_resources.readers`, and archived next
to the nominal simulation, whose snapshots are rewritten to list the figures
(:func:`vseq_resources.briefing_archive.archive_briefing`). The materialization shows the
figures in the Dagster UI (Markdown with the images embedded) with links to the archived files.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset functions when they are defined.

import base64

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from vseq_resources.dagster_resources import ArchiveResource
from vseq_resources.dayobs import parse_dayobs

from .keys import PRENIGHT_BRIEFING, PRENIGHT_INDEX, asset_key, group_name
from .partitions import prenight_partitions


def prenight_briefing_asset(telescope: str) -> AssetsDefinition:
    @asset(
        key=asset_key(telescope, PRENIGHT_BRIEFING),
        deps=[asset_key(telescope, PRENIGHT_INDEX)],
        partitions_def=prenight_partitions,
        group_name=group_name(telescope),
        kinds={"png"},
        automation_condition=AutomationCondition.eager(),
        description=(
            f"Pre-night briefing figures of the night's nominal {telescope} simulation (visits on the sky, "
            "airmass and band over the night, visits per band in each variant), archived next to it."
        ),
    )
    def prenight_briefing(context: AssetExecutionContext, archive: ArchiveResource) -> MaterializeResult:
        from vseq_resources.briefing_archive import archive_briefing

        night = parse_dayobs(context.partition_key)
        archived = archive_briefing(archive.get_archive(), telescope, night)
        briefing, urls = archived.briefing, archived.urls
        context.log.info("briefing of %s %s: %s", telescope, night, ", ".join(urls.values()))
        sections = [
            f"## {telescope} pre-night briefing for {night}",
            f"Nominal simulation `{briefing.uuid}` ({briefing.nominal['sim_creation_day_obs']} "
            f"#{briefing.nominal['daily_id']}): {briefing.nominal['visitseq_label']}, "
            f"{len(briefing.visits)} visits this night.",
        ]
        for name, png in briefing.figures.items():
            encoded = base64.b64encode(png).decode()
            sections.append(
                f"### {name}\n\n![{name}](data:image/png;base64,{encoded})\n\n[{urls[name]}]({urls[name]})"
            )
        counts = briefing.variant_counts
        metadata = {
            "report": MetadataValue.md("\n\n".join(sections)),
            "nominal_uuid": MetadataValue.text(briefing.uuid),
            "nominal_label": MetadataValue.text(str(briefing.nominal["visitseq_label"])),
            "visit_count": MetadataValue.int(len(briefing.visits)),
            "variant_count": MetadataValue.int(len(counts)),
            "variants": MetadataValue.md(_markdown_table(counts)),
        }
        for name, url in urls.items():
            metadata[f"{name}_url"] = MetadataValue.url(url)
        return MaterializeResult(metadata=metadata)

    return prenight_briefing


def _markdown_table(counts) -> str:  # noqa: ANN001 - a DataFrame of counts
    """Visits per band (columns) of each variant (rows), as a Markdown table."""
    if not len(counts):
        return "none"
    bands = [str(b) for b in counts.columns]
    lines = ["| variant | " + " | ".join(bands) + " | total |", "|---" * (len(bands) + 2) + "|"]
    for name, row in counts.iterrows():
        values = [int(v) for v in row]
        lines.append(f"| {name} | " + " | ".join(map(str, values)) + f" | {sum(values)} |")
    return "\n".join(lines)
