"""What a nightly run archived, as the lines ``vseq-nightly`` prints: plain values in, text out.

The results are filled from what each run recorded (materialization metadata: UUIDs, URLs, visit
counts per band; check results; the first step failure), so the summary says what was stored, not
what was intended.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class NightResult:
    """One telescope's completed-night run."""

    telescope: str
    success: bool
    run_id: str
    metadata: dict[str, Any]
    """Materialization metadata of ``completed_visits`` (empty when it was not materialized)."""
    checks: dict[str, bool]
    error: str | None = None
    review: dict[str, Any] = field(default_factory=dict)
    """Materialization metadata of ``night_review`` (empty when it was not materialized)."""


@dataclass
class PrenightResult:
    """One telescope's pre-night run."""

    telescope: str
    night: dt.date
    success: bool
    run_id: str
    metadata: dict[str, Any]
    """Materialization metadata of ``prenight_sims`` (empty when it was not materialized)."""
    checks: dict[str, bool]
    error: str | None = None
    published: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Metadata of the other assets of the run (``prenight_index``, ``prenight_briefing``)."""


def completed_summary(result: NightResult, night: dt.date) -> list[str]:
    """The lines describing a completed-night run: sequence, visits, URL, checks, error."""
    md = result.metadata
    status = "OK" if result.success else "FAILED"
    lines = [f"{result.telescope} {night}: {status} (Dagster run {result.run_id})"]
    if md:
        lines.append(f"  sequence  {md.get('uuid')}  ({md.get('status')})")
        lines.append(f"  visits    {md.get('visit_count')}  bands {md.get('bands')}")
        lines.append(f"  url       {md.get('url')}")
        if md.get("empty_night"):
            lines.append(f"  empty     {md.get('empty_night_reason')}")
    lines.extend(_checks_and_error(result.checks, result.error))
    return lines


def prenight_summary(result: PrenightResult) -> list[str]:
    """The lines describing a pre-night run: each variant's sequence, whether this run added it
    or reused one archived earlier with the same inputs (``added`` / ``reused <uuid>``), the
    index, the briefing."""
    md = result.metadata
    status = "OK" if result.success else "FAILED"
    lines = [f"{result.telescope} pre-night {result.night}: {status} (Dagster run {result.run_id})"]
    outcomes = md.get("outcome") or {}
    for variant, seq_uuid in (md.get("sequences") or {}).items():
        count = (md.get("visit_counts") or {}).get(variant)
        bands = (md.get("bands") or {}).get(variant) or {}
        band_text = ", ".join(f"{b}: {n}" for b, n in bands.items()) or "none"
        outcome = str(outcomes.get(variant, "added")).split(" ", 1)[0]
        lines.append(f"  {variant:<10} {outcome:<6} {seq_uuid}  {count} visits ({band_text})")
        url = (md.get("urls") or {}).get(variant)
        if url:
            lines.append(f"  {'':<10} {'':<6} {url}")
    if outcomes:
        added = sum(1 for o in outcomes.values() if o == "added")
        lines.append(
            f"  simulations {added} added, {len(outcomes) - added} reused "
            "(archived earlier with the same inputs)"
        )
    resimulated = md.get("resimulations") or []
    if resimulated:
        lines.append(
            f"  note      {', '.join(resimulated)}: re-simulation(s) of the past (the night had begun); "
            "tagged resimulation, never taken for a prediction"
        )
    if md:
        preloaded, kind = md.get("preloaded_visits"), md.get("site_data_kind")
        empty = md.get("preloaded_empty_nights") or []
        nights = ""
        if "preloaded_nights" in md:
            nights = f" of {md['preloaded_nights']} night(s), {len(empty)} empty"
        if empty:
            nights += f" ({', '.join(empty)})"
        lines.append(f"  pre-loaded {preloaded} completed visits{nights}; site data {kind}")
    index = result.published.get("prenight_index") or {}
    if index:
        count, nights = index.get("simulation_count"), index.get("nights_written")
        lines.append(f"  index     {count} simulation(s); nights {nights}")
        lines.append(f"  {'':<10}{index.get('url')}")
    briefing = result.published.get("prenight_briefing") or {}
    for key, value in briefing.items():
        if key.endswith("_url"):
            lines.append(f"  briefing  {value}")
    lines.extend(_checks_and_error(result.checks, result.error))
    return lines


def review_summary(result: NightResult, night: dt.date) -> list[str]:
    """The lines of the night's review: the verdict, the simulation it was compared with, the time
    lost, the best-explaining variant and the archived figures."""
    md = result.review
    if not md:
        why = result.error or "the review was not materialized"
        return [f"Night {night}, {result.telescope}: no review ({why})"]
    lines = [str(md.get("verdict"))]
    lines.append(f"  plan      {md.get('simulation')}")
    timing = md.get("timing") or {}
    if timing.get("lost_start_minutes") is not None:
        lines.append(
            f"  lost      start {timing['lost_start_minutes']:.0f} min, "
            f"gaps {timing['lost_gap_minutes']:.0f} min, end {timing['lost_end_minutes']:.0f} min; "
            f"best explained by {md.get('best_variant')}"
        )
    matching = md.get("matching") or {}
    if matching.get("planned"):
        lines.append(f"  matched   {matching['matched']} of {matching['planned']} planned visits observed")
    for key, value in md.items():
        if key.endswith("_url"):
            lines.append(f"  figure    {value}")
    return lines


def _checks_and_error(checks: dict[str, bool], error: str | None) -> list[str]:
    lines = [
        f"  check     {name}: {'passed' if passed else 'FAILED'}" for name, passed in sorted(checks.items())
    ]
    if error:
        lines.append(f"  error     {error}")
    return lines
