"""A stand-in for the field tessellation that blob and greedy surveys point at.

rubin_scheduler's area surveys take their pointings from ``site_models/icover.3.5292.23.0.txt``,
N. J. A. Sloane's icosahedral *covering* of the sphere by 5292 points: every point of the sky is
within the camera's 1.75-degree radius (``HpInLsstFov``) of some field centre, so whichever
healpixel a survey picks, the field nearest to it (``hp2fields``) observes it. The file is part of
the downloaded data; offline, vseq writes a Fibonacci lattice instead, near-uniform and trivially
generated, but it covers less well than Sloane's code: with 5292 points about 1 % of the sky is
farther than 1.75 degrees from every centre (up to 2.1 degrees near the poles). A survey whose
best pixel lies there points at the nearest field without ever observing that pixel, so the
pixel stays best: the greedy tier took one field 27-60 times in a row. :data:`N_FIELDS` is
therefore the smallest round number of lattice points whose covering radius is inside the
camera's (8000 points: at most 1.71 degrees from a centre, checked on an nside-512 grid by
``vseq_tests/resources/simulation/test_site_data.py``); the surveys rotate the tessellation every
night anyway, so no field centre is special. More, smaller-spaced fields than production's are an
approximation of the offline site data, recorded as such in each simulation's metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIELDS_FILE = "icover.3.5292.23.0.txt"
N_FIELDS = 8000
FOV_RADIUS_DEG = 1.75
"""The camera radius rubin_scheduler's ``HpInLsstFov`` marks as observed."""


def fibonacci_sphere(n: int = N_FIELDS) -> np.ndarray:
    """``n`` near-uniform unit vectors, shape (n, 3)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z**2)
    phi = np.pi * (3.0 - np.sqrt(5.0)) * i
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def write_fields(site_models_dir: Path) -> None:
    """Write the tessellation in the file's layout: one coordinate per line, x y z per point."""
    np.savetxt(site_models_dir / FIELDS_FILE, fibonacci_sphere().ravel(), fmt="%.12f")
