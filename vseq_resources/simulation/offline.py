"""Astropy settings for machines without internet access.

Astropy's bundled IERS-A table goes stale after 30 days; from then on every AltAz transform tries
to download a fresh one and, offline, raises. Pre-night simulations only need coordinates good to
a fraction of a degree, for which the bundled table (and, beyond it, IERS-B extrapolation) is
plenty, so vseq tells astropy never to download and never to refuse old tables. This must happen
before anything computes coordinates, which is why the simulation package calls it on import.
"""

from __future__ import annotations

from astropy.utils import iers


def configure_offline_astropy() -> None:
    """Stop astropy from downloading IERS tables or refusing stale ones (idempotent)."""
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
