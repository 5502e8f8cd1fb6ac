"""Materialization metadata that describes a visits table: counts, bands, times, a preview."""

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
