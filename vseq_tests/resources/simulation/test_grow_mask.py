"""The precomputed mask padding returns exactly what rubin_scheduler's ``_hp_grow_mask`` returns."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest
from rubin_scheduler.scheduler.features import conditions as conditions_module
from rubin_scheduler.utils import _hpid2_ra_dec
from rubin_scheduler.utils.healpy_utils import _hp_grow_mask

from vseq_resources.simulation.grow_mask import fast_grow_mask, grown_mask_indices

NSIDE = 32


def _reference(masked: tuple[int, ...], grow_size: float, scale: int | None) -> np.ndarray:
    return _hp_grow_mask.__wrapped__(NSIDE, masked, grow_size=grow_size, scale=scale)


def _masks() -> list[tuple[int, ...]]:
    rng = np.random.default_rng(5)
    npix = hp.nside2npix(NSIDE)
    _, dec = _hpid2_ra_dec(NSIDE, np.arange(npix))
    low_sky = np.flatnonzero(dec > np.radians(25.0))  # a horizon-like cap, as at the telescope
    band = np.flatnonzero(np.abs(dec + np.radians(30.0)) < np.radians(3.0))  # a zenith-like strip
    scattered = np.sort(rng.choice(npix, 300, replace=False))
    return [tuple(int(i) for i in m) for m in (low_sky, band, scattered, [0], [npix - 1])]


@pytest.mark.parametrize("grow_degrees", [2.0, 3.0, 7.5])
@pytest.mark.parametrize("scale", [1000, None])
def test_same_indices_as_rubin_scheduler(grow_degrees: float, scale: int | None) -> None:
    for masked in _masks():
        expected = _reference(masked, np.radians(grow_degrees), scale)
        got = grown_mask_indices(NSIDE, masked, grow_size=np.radians(grow_degrees), scale=scale)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.int64


def test_installed_only_within_the_block() -> None:
    original = conditions_module._hp_grow_mask
    with fast_grow_mask():
        assert conditions_module._hp_grow_mask is grown_mask_indices
    assert conditions_module._hp_grow_mask is original
    with pytest.raises(RuntimeError), fast_grow_mask():
        raise RuntimeError("a failed simulation")
    assert conditions_module._hp_grow_mask is original
