"""The instruments vseq reads from ConsDB, and the few constants that differ between them.

The archive names telescopes (``simonyi``, ``auxtel``); ConsDB names instruments (schemas
``cdb_lsstcam``, ``cdb_latiss``). Both quick-look tables hold the same quantities, but LSSTCam's
are medians over detectors (``psf_sigma_median``) while LATISS, with one detector, has the bare
name (``psf_sigma``): :func:`quicklook_column` is the one place that knows it.
"""

from __future__ import annotations

from ..errors import InvalidInputError

TELESCOPE_INSTRUMENTS: dict[str, str] = {"simonyi": "lsstcam", "auxtel": "latiss"}
INSTRUMENT_TELESCOPES: dict[str, str] = {v: k for k, v in TELESCOPE_INSTRUMENTS.items()}

#: TAI - UTC: ConsDB times are TAI (37 s since 2017-01-01; no leap second announced since).
TAI_MINUS_UTC_DAYS = 37.0 / 86400.0

#: Nominal pixel scales (arcsec/pixel), used where ConsDB has no measured value.
PIXEL_SCALE: dict[str, float] = {"lsstcam": 0.2, "latiss": 0.1}

#: ``exposure_name`` prefixes (``MC_O_20251016_000123``: camera, controller O, dayobs, seq_num).
EXPOSURE_PREFIX: dict[str, str] = {"lsstcam": "MC", "latiss": "AT"}


def check_instrument(instrument: str) -> str:
    """Return ``instrument`` if vseq knows it; its name is interpolated into SQL, so check it."""
    if instrument not in INSTRUMENT_TELESCOPES:
        known = ", ".join(sorted(INSTRUMENT_TELESCOPES))
        raise InvalidInputError(f"unknown ConsDB instrument {instrument!r}: expected one of {known}")
    return instrument


def instrument_for(telescope: str) -> str:
    """The ConsDB instrument of an archive telescope name."""
    try:
        return TELESCOPE_INSTRUMENTS[telescope]
    except KeyError:
        known = ", ".join(sorted(TELESCOPE_INSTRUMENTS))
        raise InvalidInputError(f"unknown telescope {telescope!r}: expected one of {known}") from None


def telescope_for(instrument: str) -> str:
    """The archive telescope name of a ConsDB instrument."""
    return INSTRUMENT_TELESCOPES[check_instrument(instrument)]


def quicklook_column(instrument: str, quantity: str) -> str:
    """The ``visit1_quicklook`` column of a quantity (``psf_sigma`` -> ``psf_sigma_median``)."""
    return f"{quantity}_median" if check_instrument(instrument) == "lsstcam" else quantity
