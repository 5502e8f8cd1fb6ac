"""The variants of a pre-night simulation: what differs between the runs made for one night.

Production runs, each afternoon, the same pre-loaded scheduler several ways and tags each run
(``vseqarchive tag``) so that readers can pick one. The tags and labels, as production's batch
scripts write them (``lsst_survey_sim`` ``batch/run_prenight_sims.sh`` for Simonyi, rubin_sim's
``batch/run_prenight_sims.sh`` for the SV survey), for 3 nights from the coming one:

- nominal: ``prenight ideal nominal`` (Simonyi runs it twice, and tags the copy that keeps
  rewards ``prenight ideal nominal rewards``; vseq adds ``rewards`` to every run whose rewards it
  archives: :func:`~vseq_resources.prenight.simulation_tags`),
  "Nominal start and overhead, ideal conditions, run at <time>";
- delayed start by N minutes (Simonyi 240; SV 10 and 60): ``prenight ideal delay_<N>``,
  "Start time delayed by <N> minutes, nominal slew and visit overhead, ideal conditions, run at
  <time>"; the start is the -12 degree twilight plus N minutes (``compute_sim_start_and_end``
  in ``rubin_sim.sim_archive.prenight``);
- anomalous overhead (Simonyi: seed 101, slew scale 10.0; SV: seeds 101 and 102, scale 0.1):
  ``prenight ideal anomalous_overhead``, "Anomalous overhead (<seed>, <scale>), nominal start,
  ideal conditions, run at <time>": random slew offsets from rubin_sim's
  ``AnomalousOverheadFunc`` (:mod:`.overhead`).

vseq mirrors the nominal, delayed and anomalous-overhead runs with the same tags and label text
(``anomalous_overhead`` is Simonyi's; ``anomalous_overhead_<seed>_<scale>`` another), and adds a
degraded-seeing run (constant seeing worse than the ideal 0.7"), tagged ``prenight
seeing_<arcsec>``: not ``ideal``, since its conditions are not, and never ``nominal``, which
readers use to select the nominal run. Which variants a partition runs is the ``variants`` list
of the ``prenight`` resource (run configuration or ``VSEQ_PRENIGHT_VARIANTS``); names are
those of :data:`NAMED_VARIANTS` or ``delay_<minutes>`` / ``seeing_<arcsec>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IDEAL_FWHM_500 = 0.7  # arcsec: rubin_scheduler's ConstantSeeingData, used by seeing_data="ideal"


@dataclass(frozen=True)
class SimulationVariant:
    """One way of running the night.

    ``delay_minutes`` delays the start of observing after twilight; ``seeing_fwhm_500`` (arcsec
    at 500 nm, zenith) replaces the ideal constant 0.7" seeing when set; ``anomalous_overhead``
    (seed, slew scale) adds production's random slew offsets (:mod:`.overhead`). ``description``
    starts the sequence's label.
    """

    name: str
    tags: tuple[str, ...]
    description: str
    delay_minutes: float = 0.0
    seeing_fwhm_500: float | None = None
    anomalous_overhead: tuple[int, float] | None = None

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
DELAY_240 = SimulationVariant(
    name="delay_240",
    tags=("prenight", "ideal", "delay_240"),
    description="Start time delayed by 240 minutes, nominal slew and visit overhead, ideal conditions",
    delay_minutes=240.0,
)
"""Production's delayed Simonyi run."""
SEEING_1_2 = SimulationVariant(
    name="seeing_1.2",
    tags=("prenight", "seeing_1.2"),
    description='Nominal start and overhead, constant 1.2" seeing, no clouds or downtime',
    seeing_fwhm_500=1.2,
)
ANOMALOUS_OVERHEAD = SimulationVariant(
    name="anomalous_overhead",
    tags=("prenight", "ideal", "anomalous_overhead"),
    description="Anomalous overhead (101, 10.0), nominal start, ideal conditions",
    anomalous_overhead=(101, 10.0),
)
"""Production's Simonyi anomalous-overhead run (seed 101, slew scale 10.0)."""
DEFAULT_VARIANTS: tuple[SimulationVariant, ...] = (NOMINAL, DELAY_60, SEEING_1_2)
"""What a partition runs unless configured otherwise: the nominal start, an hour's delay, 1.2" seeing."""
NAMED_VARIANTS: tuple[SimulationVariant, ...] = (NOMINAL, DELAY_60, DELAY_240, SEEING_1_2, ANOMALOUS_OVERHEAD)

_DELAY = re.compile(r"^delay_(?P<minutes>\d+(\.\d+)?)$")
_SEEING = re.compile(r"^seeing_(?P<fwhm>\d+(\.\d+)?)$")
_OVERHEAD = re.compile(r"^anomalous_overhead_(?P<seed>\d+)_(?P<scale>\d+(\.\d+)?)$")


def variant_by_name(name: str) -> SimulationVariant:
    """A variant by name: one of :data:`NAMED_VARIANTS`, ``delay_<minutes>``, ``seeing_<arcsec>``
    or ``anomalous_overhead_<seed>_<slew scale>`` (tagged ``anomalous_overhead``, as production
    tags each of its seeds)."""
    for variant in NAMED_VARIANTS:
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
    if match := _OVERHEAD.match(name):
        seed, scale = int(match["seed"]), float(match["scale"])
        return SimulationVariant(
            name=name,
            tags=ANOMALOUS_OVERHEAD.tags,
            description=f"Anomalous overhead ({seed}, {scale!r}), nominal start, ideal conditions",
            anomalous_overhead=(seed, scale),
        )
    from ..errors import InvalidInputError

    known = ", ".join(v.name for v in NAMED_VARIANTS)
    raise InvalidInputError(
        f"unknown simulation variant {name!r}: use {known}, delay_<minutes>, seeing_<arcsec> "
        "or anomalous_overhead_<seed>_<scale>"
    )
