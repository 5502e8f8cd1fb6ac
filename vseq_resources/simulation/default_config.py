"""vseq's default scheduler configuration: an LSST-like survey that runs without downloaded data.

Production simulates the observatory's own configuration script (``ts_config_scheduler``), which
needs data files that cannot be fetched here (dust maps, the Euclid footprint, DDF grids,
pre-computed sky maps). This configuration is the offline default and a template for user
scripts: like production scripts it defines ``get_scheduler()`` returning ``(nside, scheduler)``.

The survey, built from rubin_scheduler's own example surveys:

- footprint: the LSST wide-fast-deep area (-62 < dec < +3 deg, away from the Galactic plane,
  |b| > 15 deg, standing in for the dust-map cut), the Galactic plane and bulge at lower
  weight, the north ecliptic spur (griz, within 10 deg of the ecliptic up to +30 deg) and the
  south celestial pole, with the baseline's relative visit numbers per band
  (u 0.31, g 0.44, r 1, i 1, z 0.9, y 0.9 in the WFD);
- first tier: blob surveys taking pairs ~33 minutes apart in two different bands
  (ug, gr, ri, iz, zy), scored on depth (``M5DiffBasisFunction``, whose dark-sky maps vseq
  prepares), footprint progress, slew time and staying in the current band, masked around the
  moon, planets and telescope limits, and only started when the pair can finish before twilight;
  filter changes are priced by the blobs' ``band_change_approx`` and the mounted bands follow the
  moon (``SimpleBandSched`` in ``sim_runner``: u out near full moon, y out near new moon);
- sky-dependent band choice: every pair survey also scores its bands against the moon
  (:class:`MoonBandPreferenceBasisFunction`): u and g are preferred while the moon is down or
  thin, z and y while it is bright, r and i are neutral. The baseline gets this behaviour from
  the footprint deficits it accumulates over months (blue bands fall behind in bright time and
  catch up in dark time) and from the real sky maps; a pre-night simulation started from little
  history would otherwise pick the red pairs every night (the deeper-target r/i/z footprints
  always have the larger deficit), so a dark night showed no u or g at all;
- second tier: greedy single visits in riz y for twilight and gaps, with the baseline's masks
  plus ``AvoidFastRevisitsBasisFunction`` (any band, :data:`GREEDY_REVISIT_GAP_MINUTES`): a
  field observed in the last half hour is masked. The greedy tier used to take one field 27-60
  times in a row in twilight; the cause was the offline field tessellation (a pixel no field
  observes stays the best-scored one after every visit, see :mod:`.fields`), fixed there; the
  mask guards against any other way for a just-observed field to stay best (zero slew time,
  the darkest sky, ``VisitRepeatBasisFunction``'s penalty lapsing after its 20 pairs).
"""

from __future__ import annotations

import healpy as hp
import numpy as np
from rubin_scheduler.scheduler.basis_functions import AvoidFastRevisitsBasisFunction, BaseBasisFunction
from rubin_scheduler.scheduler.example import simple_greedy_survey, simple_pairs_survey
from rubin_scheduler.scheduler.example.simple_examples import standard_masks
from rubin_scheduler.scheduler.schedulers import CoreScheduler
from rubin_scheduler.scheduler.utils import Footprint
from rubin_scheduler.scheduler.utils.sky_area import generate_all_sky
from rubin_scheduler.site_models import Almanac
from rubin_scheduler.utils import DEFAULT_NSIDE, SURVEY_START_MJD

BANDS = "ugrizy"
WFD_RATIOS = {"u": 0.31, "g": 0.44, "r": 1.0, "i": 1.0, "z": 0.9, "y": 0.9}
PLANE_SCALE = 0.35
NES_RATIOS = {"u": 0.0, "g": 0.23, "r": 0.33, "i": 0.33, "z": 0.23, "y": 0.0}
SCP_SCALE = 0.1
PAIR_BANDS = (("u", "g"), ("g", "r"), ("r", "i"), ("i", "z"), ("z", "y"))
GREEDY_BANDS = ("r", "i", "z", "y")
PAIR_MINUTES = 33.0
GREEDY_REVISIT_GAP_MINUTES = 30.0
SCIENCE_PROGRAM = "vseq_default"
DARK_BANDS = ("u", "g")
BRIGHT_BANDS = ("z", "y")
MOON_PREFERENCE_WEIGHT = 4.0
"""Weight of the moon band preference: above the stay-in-band reward (3) of the pair surveys,
so that the telescope changes to the blue pairs when the sky darkens, and back."""


class MoonBandPreferenceBasisFunction(BaseBasisFunction):
    """Prefer blue bands in dark time and red ones in bright time (a scalar in 0..1).

    Darkness is 1 while the moon is below the horizon, else 1 - its illuminated fraction. A band
    in ``DARK_BANDS`` scores the darkness, one in ``BRIGHT_BANDS`` 1 - darkness, others 0.5; a
    survey of several bands gets their mean.
    """

    def __init__(self, bandnames: tuple[str, ...]) -> None:
        super().__init__()
        self.bandnames = tuple(bandnames)

    def _calc_value(self, conditions, **kwargs) -> float:
        darkness = 1.0 if conditions.moon_alt < 0 else 1.0 - float(conditions.moon_phase) / 100.0
        scores = [
            darkness if band in DARK_BANDS else (1.0 - darkness) if band in BRIGHT_BANDS else 0.5
            for band in self.bandnames
        ]
        return float(np.mean(scores))


def _with_moon_preference(survey, bands: tuple[str, ...]):
    survey.basis_functions.append(MoonBandPreferenceBasisFunction(bands))
    survey.basis_weights = list(survey.basis_weights) + [MOON_PREFERENCE_WEIGHT]
    return survey


def footprint_maps(nside: int = DEFAULT_NSIDE) -> np.ndarray:
    """Target visit ratios per band (a healpix map per band) over the LSST footprint."""
    sky = generate_all_sky(nside=nside, elevation_limit=20, mask=hp.UNSEEN)
    reachable = sky["map"] != hp.UNSEEN
    dec, gal_lat, ecl_lat = sky["dec"], np.abs(sky["gal_lat"]), sky["eclip_lat"]
    wfd = reachable & (dec > -62) & (dec < 3) & (gal_lat > 15)
    plane = reachable & (dec < 3) & (gal_lat <= 15)
    nes = reachable & (dec >= 3) & (dec < 30) & (np.abs(ecl_lat) < 10) & ~plane
    scp = reachable & (dec <= -62) & ~plane
    maps = np.zeros(dec.size, dtype=[(b, float) for b in BANDS])
    for band in BANDS:
        maps[band][wfd] = WFD_RATIOS[band]
        maps[band][plane] = PLANE_SCALE * WFD_RATIOS[band]
        maps[band][nes] = NES_RATIOS[band]
        maps[band][scp] = SCP_SCALE * WFD_RATIOS[band]
    return maps


def get_scheduler(
    nside: int = DEFAULT_NSIDE, survey_start: float = SURVEY_START_MJD
) -> tuple[int, CoreScheduler]:
    """The default survey as ``(nside, scheduler)``, like production configuration scripts."""
    maps = footprint_maps(nside)
    sun_ra_start = Almanac(mjd_start=survey_start).get_sun_moon_positions(survey_start)["sun_RA"].copy()
    footprint = Footprint(mjd_start=survey_start, sun_ra_start=sun_ra_start, nside=nside)
    for band in BANDS:
        footprint.set_footprint(band, maps[band])

    pairs = [
        _with_moon_preference(
            simple_pairs_survey(
                nside=nside,
                bandname=b1,
                bandname2=b2,
                footprint=footprint,
                survey_start=survey_start,
                pair_time=PAIR_MINUTES,
                science_program=SCIENCE_PROGRAM,
                observation_reason=f"pairs_{b1}{b2}",
                require_time=True,
            ),
            (b1, b2),
        )
        for b1, b2 in PAIR_BANDS
    ]
    greedy = [
        simple_greedy_survey(
            nside=nside,
            bandname=band,
            survey_start=survey_start,
            footprints_hp=maps,
            mask_basis_functions=[
                *standard_masks(nside=nside),
                AvoidFastRevisitsBasisFunction(
                    bandname=None, nside=nside, gap_min=GREEDY_REVISIT_GAP_MINUTES
                ),
            ],
            science_program=SCIENCE_PROGRAM,
            observation_reason=f"singles_{band}",
        )
        for band in GREEDY_BANDS
    ]
    return nside, CoreScheduler([pairs, greedy], nside=nside)
