"""The telescope-limit mask's padding, computed from a precomputed neighbourhood table.

Every ``Conditions.alt_az_shadow_mask`` call (one per scheduler decision and mask setting: about
a hundred per simulated night) pads the unreachable sky by a few degrees with rubin_scheduler's
``_hp_grow_mask``: a k-d tree ball query around each of the ~6 000 masked pixels (everything
below 20 degrees altitude, around zenith and outside the azimuth limits), then ``np.unique`` of
the concatenated neighbour lists. Profiled on a default pre-night night, that was a quarter of
``sim_runner``'s time (3.6 of 12.5 s).

The neighbours of a pixel never change: same tree, same rounded coordinates, same radius. So
:func:`grown_mask_indices` asks the same tree, with the same integer-rounded query points,
for the neighbours of *every* pixel once per (nside, radius, scale), keeps them as a sparse
matrix, and answers each call by taking the rows of the masked pixels: the union of the same
neighbour lists, i.e. the same sorted indices rubin_scheduler returns (test:
``vseq_tests/resources/simulation/test_grow_mask.py``). :func:`fast_grow_mask` installs it where
``Conditions`` looks the function up, for the duration of a block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import healpy as hp
import numpy as np
from rubin_scheduler.scheduler.features import conditions as conditions_module
from rubin_scheduler.utils import _hpid2_ra_dec, _xyz_from_ra_dec
from rubin_scheduler.utils.healpy_utils import _tree_for_mask
from scipy import sparse

DEFAULT_GROW_RADIANS = float(np.radians(2.0))
DEFAULT_SCALE = 1000


@lru_cache(maxsize=8)
def _neighbourhoods(nside: int, grow_size: float, scale: int | None) -> sparse.csr_matrix:
    """Row p: the pixels rubin_scheduler's ball query around pixel p returns (as column indices)."""
    npix = hp.nside2npix(nside)
    tree = _tree_for_mask(nside, scale=scale)
    ra, dec = _hpid2_ra_dec(nside, np.arange(npix))
    x, y, z = _xyz_from_ra_dec(ra, dec)
    dist = 2.0 * np.sin(grow_size / 2.0)
    if scale is not None:  # the rounding rubin_scheduler applies to the query, step by step
        x = np.round(x * scale).astype(int)
        y = np.round(y * scale).astype(int)
        z = np.round(z * scale).astype(int)
        dist = np.round(dist * scale).astype(int)
    lists = tree.query_ball_point(np.vstack([x, y, z]).T, dist)
    lengths = np.fromiter((len(n) for n in lists), dtype=np.int64, count=npix)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate([np.asarray(n, dtype=np.int64) for n in lists])
    data = np.ones(indices.size, dtype=bool)
    return sparse.csr_matrix((data, indices, indptr), shape=(npix, npix))


def grown_mask_indices(
    nside: int,
    masked_indx_tuple: tuple[int, ...],
    grow_size: float = DEFAULT_GROW_RADIANS,
    scale: int | None = DEFAULT_SCALE,
) -> np.ndarray:
    """What ``rubin_scheduler.utils._hp_grow_mask`` returns: the sorted pixels within
    ``grow_size`` (radians) of any pixel of ``masked_indx_tuple``, masked pixels included."""
    table = _neighbourhoods(int(nside), float(grow_size), scale)
    masked = np.asarray(masked_indx_tuple, dtype=np.int64)
    if masked.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(table[masked].indices).astype(np.int64)


@contextmanager
def fast_grow_mask() -> Iterator[None]:
    """Within the block, ``Conditions.alt_az_shadow_mask`` pads masks with :func:`grown_mask_indices`.

    The module attribute is restored on exit whatever happens; nothing else changes.
    """
    original = conditions_module._hp_grow_mask
    conditions_module._hp_grow_mask = grown_mask_indices
    try:
        yield
    finally:
        conditions_module._hp_grow_mask = original
