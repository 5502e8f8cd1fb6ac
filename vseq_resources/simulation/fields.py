"""A stand-in for the field tessellation that blob and greedy surveys point at.

rubin_scheduler's area surveys take their pointings from ``site_models/icover.3.5292.23.0.txt``,
N. J. A. Sloane's icosahedral covering of the sphere by 5292 points, part of the downloaded data.
Offline, vseq writes the same number of points as a Fibonacci lattice, which is near-uniform with
a covering radius within a few percent of the icosahedral code's; the surveys rotate the
tessellation every night anyway, so no field centre is special.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIELDS_FILE = "icover.3.5292.23.0.txt"
N_FIELDS = 5292


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
