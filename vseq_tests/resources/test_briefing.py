"""The briefing figures keep their titles and legends inside the image, however long the
simulation's label, and every band is visible on the sky map even where two bands observed the
same fields (g and r pairs)."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from vseq_resources import briefing, figure_style
from vseq_resources.plausibility import NightPlausibility

LABEL = (
    "simonyi 2026-12-05: Nominal start and overhead, ideal conditions, run at "
    "2026-12-06T01:12:46+00:00 with rubin_scheduler 4.6.0; approximate vseq sky and almanac (2026-12-05 #1)"
)


def _paired_visits() -> pd.DataFrame:
    """g and r visits of the same 40 fields (as the survey pairs them), i elsewhere."""
    rng = np.random.default_rng(3)
    ra, dec = rng.uniform(20, 140, 40), rng.uniform(-50, 10, 40)
    rows = []
    for band, ras, decs in (("g", ra, dec), ("r", ra, dec), ("i", ra + 150, dec)):
        for k, (a, d) in enumerate(zip(ras, decs, strict=True)):
            rows.append(
                {
                    "band": band,
                    "fieldRA": a % 360,
                    "fieldDec": d,
                    "airmass": 1.1 + 0.01 * k,
                    "observationStartMJD": 61379.05 + 0.001 * len(rows),
                }
            )
    return pd.DataFrame(rows)


def _variants() -> pd.DataFrame:
    names = [f"2026-12-05 #{i}: approximate_sky, ideal, delay_{i * 60}" for i in range(1, 4)]
    return pd.DataFrame([[40, 120, 80], [35, 110, 70], [30, 100, 60]], index=names, columns=["g", "r", "i"])


def _assessed() -> dict[str, NightPlausibility]:
    numbers = {"visits_per_dark_hour": 90.0, "band_changes": 8, "median_airmass": 1.2}
    return {name: NightPlausibility(dt.date(2026, 12, 5), 700, numbers) for name in _variants().index}


FIGURES = {
    "sky": lambda: briefing.draw_sky(_paired_visits(), f"{LABEL}\n120 visits on the sky"),
    "night": lambda: briefing.draw_night(_paired_visits(), f"{LABEL}\nairmass and band over the night"),
    "variants": lambda: briefing.draw_variants(_variants(), f"{LABEL}: visits per band in each variant"),
    "plausibility": lambda: briefing.draw_plausibility(_assessed(), f"{LABEL}: against the baseline"),
}


@pytest.mark.parametrize("name", FIGURES)
def test_titles_and_legends_are_inside_the_image(name: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = FIGURES[name]()
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # lays the figure out (constrained) as savefig does
    renderer = canvas.get_renderer()
    box = figure.bbox
    texts = [figure._suptitle, *figure.legends, *(ax.title for ax in figure.axes)]
    texts = [
        t for t in texts if t is not None and t.get_visible() and (not hasattr(t, "get_text") or t.get_text())
    ]
    assert figure._suptitle is not None and figure.legends  # a title and a legend are drawn
    for artist in texts:
        extent = artist.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 0.5 and extent.x1 <= box.x1 + 0.5, (name, artist, extent, box)
        assert extent.y0 >= box.y0 - 0.5 and extent.y1 <= box.y1 + 0.5, (name, artist, extent, box)
    png = figure_style.png_bytes(figure)
    assert png.startswith(b"\x89PNG")


def test_every_band_is_visible_on_the_sky_map() -> None:
    image = mpimg.imread(io.BytesIO(briefing.sky_figure(_paired_visits(), LABEL)), format="png")[..., :3]
    height, width = image.shape[:2]
    sky = image[:, : int(width * 0.85)]  # the map, without the legend at the right
    for band in ("g", "r", "i"):
        colour = np.array(to_rgb(figure_style.band_color(band)))
        close = np.abs(sky - colour).max(axis=-1) < 0.02
        assert close.sum() > 200, f"{band}: {close.sum()} pixels of its colour on the map"
