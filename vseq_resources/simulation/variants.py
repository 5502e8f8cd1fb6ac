"""The variants of a pre-night simulation: what differs between the runs made for one night.

Production (``lsst_survey_sim``'s ``run_prenight_sims.sh``) runs, each afternoon, a nominal
simulation tagged ``prenight ideal nominal`` (label "Nominal start and overhead, ideal
conditions, ..."), a delayed start tagged ``prenight ideal delay_<minutes>`` ("Start time delayed
by <minutes> minutes, nominal slew and visit overhead, ideal conditions, ...") and randomised
overheads. vseq mirrors the nominal and delayed runs and adds a degraded-seeing run; readers
select the nominal one by its tags, so only it carries ``nominal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IDEAL_FWHM_500 = 0.7  # arcsec: rubin_scheduler's ConstantSeeingData, used by seeing_data="ideal"


@dataclass(frozen=True)
class SimulationVariant:
    """One way of running the night.

    ``delay_minutes`` delays the start of observing after twilight; ``seeing_fwhm_500`` (arcsec
    at 500 nm, zenith) replaces the ideal constant 0.7" seeing when set. ``description`` starts
    the sequence's label.
    """

    name: str
    tags: tuple[str, ...]
    description: str
    delay_minutes: float = 0.0
    seeing_fwhm_500: float | None = None

    @property
    def fwhm_500(self) -> float:
        return IDEAL_FWHM_500 if self.seeing_fwhm_500 is None else self.seeing_fwhm_500


NOMINAL = SimulationVariant(
    name="nominal",
    tags=("prenight", "ideal", "nominal"),
    description="Nominal start and overhead, ideal conditions",
)
DELAY_60 = SimulationVariant(
    name="delay_60",
    tags=("prenight", "ideal", "delay_60"),
    description="Start time delayed by 60 minutes, nominal slew and visit overhead, ideal conditions",
    delay_minutes=60.0,
)
SEEING_1_2 = SimulationVariant(
    name="seeing_1.2",
    tags=("prenight", "seeing_1.2"),
    description='Nominal start and overhead, constant 1.2" seeing, no clouds or downtime',
    seeing_fwhm_500=1.2,
)
DEFAULT_VARIANTS: tuple[SimulationVariant, ...] = (NOMINAL, DELAY_60, SEEING_1_2)

_DELAY = re.compile(r"^delay_(?P<minutes>\d+(\.\d+)?)$")
_SEEING = re.compile(r"^seeing_(?P<fwhm>\d+(\.\d+)?)$")


def variant_by_name(name: str) -> SimulationVariant:
    """A variant by name: one of :data:`DEFAULT_VARIANTS`, ``delay_<minutes>`` or ``seeing_<arcsec>``."""
    for variant in DEFAULT_VARIANTS:
        if variant.name == name:
            return variant
    if match := _DELAY.match(name):
        minutes = float(match["minutes"])
        return SimulationVariant(
            name=name,
            tags=("prenight", "ideal", name),
            description=f"Start time delayed by {minutes:g} minutes, nominal slew and visit overhead, "
            "ideal conditions",
            delay_minutes=minutes,
        )
    if match := _SEEING.match(name):
        fwhm = float(match["fwhm"])
        return SimulationVariant(
            name=name,
            tags=("prenight", name),
            description=f'Nominal start and overhead, constant {fwhm:g}" seeing, no clouds or downtime',
            seeing_fwhm_500=fwhm,
        )
    from ..errors import InvalidInputError

    known = ", ".join(v.name for v in DEFAULT_VARIANTS)
    raise InvalidInputError(
        f"unknown simulation variant {name!r}: use {known}, delay_<minutes> or seeing_<arcsec>"
    )
