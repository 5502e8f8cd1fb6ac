"""Production's anomalous-overhead variant: each visit's start pushed by a random slew offset.

Production's Simonyi pre-night (``lsst_survey_sim`` ``batch/run_prenight_sims.sh``) runs, beside
the nominal and delayed starts, ``run_lsst_sim ... --delay 0 --anom_overhead_scale 10.0
--anom_overhead_seed 101``, tagged ``prenight ideal anomalous_overhead``: ``sim_runner`` adds,
after every completed visit, the offset returned by rubin_sim's
``rubin_sim.sim_archive.prenight.AnomalousOverheadFunc(seed, slew_scale)`` to the observatory's
clock. rubin_sim is not a dependency of vseq (it is production's whole archive package), so
:class:`AnomalousOverhead` computes the same offsets with the same random stream as rubin-sim
2.6.2's class with its defaults (``vseq_tests/compat/test_anomalous_overhead.py`` compares them
with production's own):

- a slew offset ``slewtime * N(0, slew_scale)``, at least ``-slewtime`` (a slew never takes
  negative time);
- plus a scatter drawn from a half-normal of scale 0 (production's default: always 0, but it
  draws from the same generator, so it is drawn here too);
- then raised so that the visit's overhead (``slewtime + visittime - exptime`` plus the offset)
  is not negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats


class AnomalousOverhead:
    """What ``AnomalousOverheadFunc(seed, slew_scale)`` of rubin-sim 2.6.2 returns, call by call.

    Called by ``sim_runner`` as ``func(obs=completed_obs)`` with the completed visit (a
    one-row ``ObservationArray`` or a mapping of plain values); returns seconds.
    """

    def __init__(self, seed: int, slew_scale: float) -> None:
        self.seed = seed
        self.slew_scale = slew_scale
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: Any) -> float:
        slewtime = _scalar(obs["slewtime"])
        offset = 0.0
        if self.slew_scale > 0:
            offset = slewtime * self.rng.normal(0.0, self.slew_scale)
            if slewtime + offset < 0:
                offset = -1 * slewtime
        offset += scipy.stats.halfnorm.rvs(scale=0.0, loc=0.0, random_state=self.rng)
        model_overhead = slewtime + _scalar(obs["visittime"]) - _scalar(obs["exptime"])
        if model_overhead + offset < 0.0:
            offset = 0.0 - model_overhead
        return float(offset)


def _scalar(value: Any) -> float:
    """A field of the completed visit: a plain number, or the one value of a one-row array."""
    return float(np.asarray(value).reshape(-1)[0])
