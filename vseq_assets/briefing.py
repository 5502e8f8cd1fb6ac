"""``<telescope>/prenight_briefing``: figures of the night's nominal pre-night simulation.

Built as a downstream report builds it, through :mod:`vseq_resources.readers`, and archived next
to the nominal simulation, whose snapshots are rewritten to list the figures
(:func:`vseq_resources.briefing_archive.archive_briefing`).

The materialization's first entry, ``figures``, shows the four figures inline on the asset's
page and on each partition's page: a short Markdown text (under the 1000 characters below which
the UI renders Markdown in place instead of behind "[Show Markdown]") of image links to the
archived files served over http (``VSEQ_STORE_HTTP_URL``; ``vseq-services start`` serves the
store at http://127.0.0.1:3001/). The images are never embedded, so the event log grows by a few
hundred characters a day, not by the figures; a browser opens the links (never ``file://``).
Without an http URL for the store, ``figures`` says so and each ``<figure>_url`` entry is the
file's location in the store, to copy.
"""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset functions when they are defined.

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
from .reporting import figures_markdown, store_link
from .run_tags import tag_run


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

        tag_run(context, telescope, "prenight")
        night = parse_dayobs(context.partition_key)
        archived = archive_briefing(archive.get_archive(), telescope, night)
        briefing, urls = archived.briefing, archived.urls
        context.log.info("briefing of %s %s: %s", telescope, night, ", ".join(urls.values()))
        settings = archive.settings()
        http = {name: settings.http_url(url) for name, url in urls.items()}
        counts = briefing.variant_counts
        metadata = {
            "figures": figures_markdown(http),
            "nominal_uuid": MetadataValue.text(briefing.uuid),
            "nominal_label": MetadataValue.text(str(briefing.nominal["visitseq_label"])),
            "visit_count": MetadataValue.int(len(briefing.visits)),
            "variant_count": MetadataValue.int(len(counts)),
            "variants": MetadataValue.md(_markdown_table(counts)),
        }
        for name, url in urls.items():
            metadata[f"{name}_url"] = store_link(url, http[name])
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
