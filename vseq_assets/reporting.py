"""Materialization metadata: a visits table (counts, bands, times, a preview), and links to
stored files and figures as the Dagster UI shows them."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from vseq_resources.dayobs import datetime_of_mjd

PREVIEW_ROWS = 8

#: Preview columns: (opsim column, shown name, type, decimals).
PREVIEW_COLUMNS: tuple[tuple[str, str, str, int | None], ...] = (
    ("observationStartMJD", "start (UTC)", "string", None),
    ("band", "band", "string", None),
    ("fieldRA", "RA (deg)", "float", 4),
    ("fieldDec", "Dec (deg)", "float", 4),
    ("rotSkyPos", "rotSkyPos (deg)", "float", 2),
    ("airmass", "airmass", "float", 3),
    ("visitExposureTime", "exp. time (s)", "float", 1),
    ("seeingFwhmEff", "FWHM eff (arcsec)", "float", 2),
    ("target_name", "target", "string", None),
    ("science_program", "program", "string", None),
)


def _plain(value: Any, kind: str, decimals: int | None) -> Any:
    if kind == "float":
        number = float(value)
        if math.isnan(number):
            return None
        return round(number, decimals) if decimals is not None else number
    return "" if value is None else str(value)


def preview_table(visits: pd.DataFrame, rows: int = PREVIEW_ROWS) -> MetadataValue:
    """The first visits, as a Dagster table (shown on the materialization in the UI)."""
    columns = [spec for spec in PREVIEW_COLUMNS if spec[0] in visits.columns]
    schema = TableSchema(columns=[TableColumn(name=name, type=kind) for _, name, kind, _ in columns])
    records = []
    for _, visit in visits.head(rows).iterrows():
        values: dict[str, Any] = {}
        for column, name, kind, decimals in columns:
            if column == "observationStartMJD":
                values[name] = datetime_of_mjd(float(visit[column])).strftime("%Y-%m-%d %H:%M:%S")
            else:
                values[name] = _plain(visit[column], kind, decimals)
        records.append(TableRecord(values))
    return MetadataValue.table(records=records, schema=schema)


def band_counts(visits: pd.DataFrame) -> dict[str, int]:
    """Visits per band, in the usual band order."""
    if "band" not in visits.columns or visits.empty:
        return {}
    counts = visits["band"].astype(str).value_counts()
    order = "ugrizy"
    names = sorted(counts.index, key=lambda b: (order.find(b) if b in order else len(order), b))
    return {str(b): int(counts[b]) for b in names}


def visits_metadata(visits: pd.DataFrame) -> dict[str, Any]:
    """Count, bands, first/last visit time and a preview of a visits table."""
    counts = band_counts(visits)
    metadata: dict[str, Any] = {
        "visit_count": MetadataValue.int(len(visits)),
        "dagster/row_count": MetadataValue.int(len(visits)),
        "bands": MetadataValue.text(", ".join(f"{b}: {n}" for b, n in counts.items()) or "none"),
    }
    if len(visits) and "observationStartMJD" in visits.columns:
        mjd = visits["observationStartMJD"].astype(float)
        metadata["first_visit_time"] = MetadataValue.timestamp(datetime_of_mjd(float(mjd.min())))
        metadata["last_visit_time"] = MetadataValue.timestamp(datetime_of_mjd(float(mjd.max())))
    metadata["preview"] = preview_table(visits)
    return metadata


def sql_block(query: str) -> MetadataValue:
    """An SQL text shown as a code block."""
    return MetadataValue.md(f"```sql\n{query}\n```")


def store_link(url: str | None, http_url: str | None = None) -> MetadataValue:
    """A stored file as the UI shows it: a link a browser opens (its http URL, when a server
    serves the store), else the store URL as a copyable path. Never a ``file://`` link: browsers
    do not open those from a page served over http."""
    if http_url:
        return MetadataValue.url(http_url)
    if not url:
        return MetadataValue.text("(not stored)")
    if url.startswith(("http://", "https://")):
        return MetadataValue.url(url)
    return MetadataValue.path(url)


INLINE_MARKDOWN_LIMIT = 1000
"""The Dagster UI shows a Markdown metadata value in place when it is shorter than this, and
behind "[Show Markdown]" otherwise (``MetadataEntry.tsx``, ``expandSmallValues``)."""


def figures_markdown(http_urls: dict[str, str | None]) -> MetadataValue:
    """The figures as Markdown images linking to their http URLs, short enough to be shown in
    place; without http URLs, a line saying how to get them."""
    if not http_urls or not all(http_urls.values()):
        return MetadataValue.md(
            "The figures are in the store (the `*_url` entries). To see them here, serve the store "
            "over http (`vseq-services start`) and set `VSEQ_STORE_HTTP_URL` for the runs."
        )
    text = " ".join(f"[![{name}]({url})]({url})" for name, url in http_urls.items())
    if len(text) >= INLINE_MARKDOWN_LIMIT:  # very long store paths: plain links still fit
        text = " · ".join(f"[{name}]({url})" for name, url in http_urls.items())
    return MetadataValue.md(text)
