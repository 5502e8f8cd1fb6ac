"""The look every vseq figure shares (pre-night briefing, night review): band order, band
colours and PNG output, so that a band has the same colour in every figure a user compares."""

from __future__ import annotations

import io
from typing import Any

BANDS = ("u", "g", "r", "i", "z", "y")
BAND_COLORS = {"u": "#1f78b4", "g": "#1b9e77", "r": "#d95f02", "i": "#7570b3", "z": "#a6761d", "y": "#444444"}
"""Band colours for a white background, each distinguishable from its neighbours in wavelength."""
OTHER_BAND_COLOR = "#999999"
DPI = 90


def band_color(band: str) -> str:
    """The colour of ``band`` (grey for a band outside ugrizy)."""
    return BAND_COLORS.get(band, OTHER_BAND_COLOR)


def png_bytes(figure: Any) -> bytes:
    """``figure`` rendered as PNG, without pyplot (no global figure state, any backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
