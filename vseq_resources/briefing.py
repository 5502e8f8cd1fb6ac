"""Figures of the pre-night briefing, built the way a downstream report builds them: through the
reader API (:mod:`.readers`), never by reaching into the database directly.

:func:`build_briefing` selects the partition's nominal simulation (the newest ``ideal``/``nominal``
one starting on the night) and the other variants of its run, reads their visits, and
draws three PNG figures with matplotlib's Agg backend (no display, safe in worker threads):

- ``sky``: the night's visits on the sky (Mollweide projection of RA/Dec, RA increasing to the
  left), coloured by band;
- ``night``: airmass over the night, coloured by band, above the band in use over time;
- ``variants``: visit counts per band in each variant of that run;
- ``plausibility``: each variant's night measured against its telescope's ranges (Simonyi: the
  baseline survey's; AuxTel: derived from vseq's simulated AuxTel nights; :mod:`.plausibility`):
  one row per rule, the plausible range shaded, one marker per variant (filled when inside the
  range, hollow when outside).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .dayobs import dayobs_mjd_start, parse_dayobs
from .errors import NotFoundError
from .figure_style import BANDS, band_color, png_bytes

if TYPE_CHECKING:
    import pandas as pd

    from .plausibility import NightPlausibility
    from .readers import ArchiveReader


@dataclass
class Briefing:
    """The briefing of one night: the nominal simulation, its visits and the figures (PNG bytes)."""

    day_obs: dt.date
    telescope: str
    nominal: dict[str, Any]
    visits: pd.DataFrame
    variant_counts: pd.DataFrame
    plausibility: dict[str, NightPlausibility] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        return str(self.nominal["visitseq_uuid"])


def _ordered_bands(values: Any) -> list[str]:
    present = sorted({str(b) for b in values}, key=lambda b: (BANDS.index(b) if b in BANDS else 99, b))
    return present


TITLE_CHARACTERS_PER_INCH = 10.5
"""How many characters of a 10-point title fit in an inch of figure width (DejaVu Sans)."""


def _title(figure: Any, text: str) -> None:
    """The figure's title, wrapped to its width and placed by its constrained layout, so that
    no title runs off the image's sides however long the simulation's label is."""
    import textwrap

    width = max(20, int(figure.get_figwidth() * TITLE_CHARACTERS_PER_INCH))
    lines = [textwrap.fill(line, width, break_long_words=True) for line in text.splitlines()]
    figure.suptitle("\n".join(lines), fontsize=10)


SKY_MARKER_SIZES = {"u": 120, "g": 80, "r": 40, "i": 22, "z": 10, "y": 4}
"""Marker areas on the sky map, largest for the bluest band, drawn in band order: a field
observed in several bands (g and r of the same pointing) shows a ring of each band around the
next instead of the last band hiding the others."""


def sky_figure(visits: pd.DataFrame, title: str) -> bytes:
    """The PNG of :func:`draw_sky`."""
    return png_bytes(draw_sky(visits, title))


def draw_sky(visits: pd.DataFrame, title: str) -> Any:
    """Visits on the sky: Mollweide projection, RA increasing to the left, one colour per band."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5.2), layout="constrained")
    ax = figure.add_subplot(projection="mollweide")
    for band in _ordered_bands(visits["band"]):
        chosen = visits[visits["band"].astype(str) == band]
        ra = np.radians(((chosen["fieldRA"].to_numpy(float) + 180.0) % 360.0) - 180.0)
        dec = np.radians(chosen["fieldDec"].to_numpy(float))
        ax.scatter(
            -ra,
            dec,
            s=SKY_MARKER_SIZES.get(band, 10),
            color=band_color(band),
            edgecolors="none",
            label=f"{band} ({len(chosen)})",
        )
    ticks = np.radians(np.arange(-150, 181, 30))
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{round(-np.degrees(t)) % 360}°" for t in ticks], fontsize=8)
    ax.grid(True, alpha=0.4)
    _title(figure, title)
    if len(visits):
        # Equal legend markers, outside the map and inside the image (constrained layout).
        legend = figure.legend(loc="outside right center", fontsize=8, title="band", scatterpoints=1)
        for handle in legend.legend_handles:
            handle.set_sizes([30])
    return figure


def _times(visits: pd.DataFrame) -> Any:
    import pandas as pd

    mjd = visits["observationStartMJD"].to_numpy(float)
    return pd.to_datetime((mjd - 40587.0) * 86400.0, unit="s", utc=True)


def _airmass(visits: pd.DataFrame) -> np.ndarray | None:
    if "airmass" in visits.columns:
        return visits["airmass"].to_numpy(float)
    if "altitude" in visits.columns:
        return 1.0 / np.cos(np.radians(90.0 - visits["altitude"].to_numpy(float)))
    return None


def night_figure(visits: pd.DataFrame, title: str) -> bytes:
    """The PNG of :func:`draw_night`."""
    return png_bytes(draw_night(visits, title))


def draw_night(visits: pd.DataFrame, title: str) -> Any:
    """Airmass over the night coloured by band, above the band in use over time (UTC)."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    times = _times(visits)
    airmass = _airmass(visits)
    bands = visits["band"].astype(str).to_numpy()
    order = _ordered_bands(bands)
    for band in order:
        mask = bands == band
        if airmass is not None:
            top.scatter(times[mask], airmass[mask], s=10, color=band_color(band), label=band)
        bottom.scatter(
            times[mask],
            np.full(mask.sum(), BANDS.index(band) if band in BANDS else 6),
            s=18,
            marker="|",
            color=band_color(band),
        )
    top.set_ylabel("airmass")
    if airmass is not None:
        top.invert_yaxis()
    top.grid(True, alpha=0.3)
    _title(figure, title)
    if len(order) and airmass is not None:
        figure.legend(title="band", fontsize=8, loc="outside right upper")
    bottom.set_yticks(range(len(BANDS)), list(BANDS))
    bottom.set_ylabel("band")
    bottom.set_xlabel("time (UTC)")
    bottom.grid(True, axis="x", alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.UTC))
    return figure


def variants_figure(counts: pd.DataFrame, title: str) -> bytes:
    """The PNG of :func:`draw_variants`."""
    return png_bytes(draw_variants(counts, title))


def draw_variants(counts: pd.DataFrame, title: str) -> Any:
    """Grouped bars: visits per band (x) for each variant (one colour per variant)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5), layout="constrained")
    ax = figure.add_subplot()
    bands = list(counts.columns)
    n = max(len(counts), 1)
    width = 0.8 / n
    palette = colormaps["tab10"]
    x = np.arange(len(bands))
    for i, (variant, row) in enumerate(counts.iterrows()):
        ax.bar(
            x - 0.4 + width * (i + 0.5), row.to_numpy(float), width, label=str(variant), color=palette(i % 10)
        )
    ax.set_xticks(x, bands)
    ax.set_xlabel("band")
    ax.set_ylabel("visits")
    _title(figure, title)
    ax.grid(True, axis="y", alpha=0.3)
    if len(counts):
        figure.legend(fontsize=7, loc="outside lower center", ncols=min(len(counts), 3))
    return figure


PLAUSIBILITY_ROWS = (
    ("visits_per_dark_hour", "visits per dark hour"),
    ("same_pointing_run", "longest same-pointing run"),
    ("band_changes", "band changes"),
    ("median_airmass", "median airmass"),
    ("median_slew", "median slew (s)"),
    ("night_used", "fraction of night used"),
    ("dark_blue_share", "u+g share, dark sky"),
    ("bright_u_share", "u share, bright sky"),
    ("bright_red_share", "z+y share, bright sky"),
)


def plausibility_figure(assessed: dict[str, NightPlausibility], title: str) -> bytes:
    """The PNG of :func:`draw_plausibility`."""
    return png_bytes(draw_plausibility(assessed, title))


def draw_plausibility(assessed: dict[str, NightPlausibility], title: str) -> Any:
    """One row per rule: the plausible range shaded, each variant's value relative to it.

    Values are drawn on a per-row scale where the bounds sit at 0 and 1 (a rule with only a lower
    bound b is scaled as b..2b, one with only an upper bound b as 0..b, and its shading runs to
    the open side), so rows of different units share one axis; each marker is labelled with its
    value, and values far outside are drawn at the edge.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from .plausibility import THRESHOLDS

    thresholds = next(iter(assessed.values())).thresholds if assessed else THRESHOLDS
    figure = Figure(figsize=(9, 0.55 * len(PLAUSIBILITY_ROWS) + 1.6), layout="constrained")
    ax = figure.add_subplot()
    palette = colormaps["tab10"]
    for row, (rule, _) in enumerate(PLAUSIBILITY_ROWS):
        limits = thresholds[rule]
        low = limits.get("min", 0.0)
        high = limits.get("max", 2.0 * limits.get("min", 1.0))
        span = (high - low) or 1.0
        shade = (0.0 if "min" not in limits else 0.25, 1.0 if "max" not in limits else 0.75)
        ax.axhspan(row - 0.35, row + 0.35, xmin=shade[0], xmax=shade[1], color="#dfeedd", zorder=0)
        for i, night in enumerate(assessed.values()):
            value = night.numbers.get(rule)
            if value is None:
                continue
            x = float(np.clip((value - low) / span, -0.45, 1.45))
            inside = limits.get("min", -np.inf) <= value <= limits.get("max", np.inf)
            y = row + (i - (len(assessed) - 1) / 2) * 0.18
            color = palette(i % 10)
            ax.scatter(x, y, s=40, color=color if inside else "white", edgecolors=color, zorder=3)
            ax.annotate(f"{value:.3g}", (x, y), xytext=(5, -3), textcoords="offset points", fontsize=7)
    for i, name in enumerate(assessed):
        ax.scatter([], [], color=palette(i % 10), label=name)
    ax.set_yticks(range(len(PLAUSIBILITY_ROWS)), [label for _, label in PLAUSIBILITY_ROWS])
    ax.set_xlim(-0.5, 1.5)
    ax.set_xticks([0, 1], ["lower bound", "upper bound"])
    ax.invert_yaxis()
    _title(figure, title)
    if assessed:
        figure.legend(fontsize=7, loc="outside lower center", ncols=min(len(assessed), 3))
    return figure


def variant_name(row: dict[str, Any] | Any) -> str:
    tags = [t for t in row["tags"] if t not in ("prenight", "resimulation")]
    return f"{row['sim_creation_day_obs']} #{row['daily_id']}: {', '.join(tags) or 'untagged'}"


def build_briefing(
    reader: ArchiveReader, day_obs: str | int | dt.date, telescope: str = "simonyi"
) -> Briefing:
    """The briefing of a night's pre-night partition, from the archive as the reader sees it.

    It shows one run: the partition's simulations (those starting on the night, pre-night
    simulations and re-simulations of the past alike: :func:`~vseq_resources.readers.partition_index`)
    made by the run of its newest ``ideal``/``nominal`` one
    (:func:`~vseq_resources.readers.partition_run`); that simulation is the nominal, the run's
    other simulations are the variants. Simulations made for earlier nights that also cover this
    one belong to their own partitions' briefings.
    Raises :class:`~vseq_resources.readers.NoMatchingSimulationsError` when there is none.
    """
    import pandas as pd

    from .plausibility import THRESHOLD_BASIS, assess_night
    from .readers import (
        LATEST_TAGS,
        NoMatchingSimulationsError,
        partition_index,
        partition_run,
        select_latest,
    )

    night = parse_dayobs(day_obs)
    index = partition_run(partition_index(reader, telescope, night))
    nominal = select_latest(index, LATEST_TAGS, None)
    if nominal is None:
        raise NoMatchingSimulationsError(
            f"no matching simulations: no ideal/nominal {telescope} simulation starts on {night}"
        )
    visits = reader.visits(nominal, [night])
    counts: dict[str, dict[str, int]] = {}
    assessed: dict[str, NightPlausibility] = {}
    for uuid, row in index.iterrows():
        try:
            variant_visits = reader.visits({**row.to_dict(), "visitseq_uuid": uuid}, [night])
        except NotFoundError:
            continue  # metadata only: no visits to count
        name = variant_name(row)
        counts[name] = variant_visits["band"].astype(str).value_counts().to_dict()
        if len(variant_visits):
            start = (row.get("sim_runner_kwargs") or {}).get("sim_start_mjd")
            start = start if start is not None and start >= dayobs_mjd_start(night) else None
            assessed[name] = assess_night(
                variant_visits, night, observing_start_mjd=start, telescope=telescope
            )
    all_bands = _ordered_bands({b for c in counts.values() for b in c})
    variant_counts = pd.DataFrame(
        [[counts[name].get(b, 0) for b in all_bands] for name in counts],
        index=list(counts),
        columns=all_bands,
    )
    name = f"{nominal['sim_creation_day_obs']} #{nominal['daily_id']}"
    label = f"{telescope} {night}: {nominal['visitseq_label']} ({name})"
    briefing = Briefing(night, telescope, nominal, visits, variant_counts, assessed)
    briefing.figures = {
        "sky": sky_figure(visits, f"{label}\n{len(visits)} visits on the sky"),
        "night": night_figure(visits, f"{label}\nairmass and band over the night"),
        "variants": variants_figure(variant_counts, f"{telescope} {night}: visits per band in each variant"),
        "plausibility": plausibility_figure(
            assessed, f"{telescope} {night}: each variant against the ranges of {THRESHOLD_BASIS[telescope]}"
        ),
    }
    return briefing
