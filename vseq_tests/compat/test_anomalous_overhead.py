"""vseq's anomalous overhead gives the offsets of production's ``AnomalousOverheadFunc``."""

from __future__ import annotations

import numpy as np
from rubin_scheduler.scheduler.utils import ObservationArray

from vseq_resources.simulation.overhead import AnomalousOverhead

from .conftest import Production


def test_offsets_are_productions_visit_by_visit(production: Production) -> None:
    """Same seed, same scale (production's Simonyi 101 and 10.0; and a small one), same visits:
    the same offsets in the same order (one random stream), clipped slews included. vseq also
    takes the one-row ``ObservationArray`` rubin_scheduler 4.6.0's ``sim_runner`` passes, which
    production's class refuses (it asserts a mapping)."""
    rng = np.random.default_rng(7)
    visits = [
        {"slewtime": float(s), "visittime": 32.0, "exptime": 30.0}
        for s in np.concatenate([[0.0, 120.0], rng.uniform(2.0, 12.0, 40)])
    ]
    runs = ((101, 10.0), (3, 0.1))
    productions = production.values(  # one driver process: importing rubin_sim takes seconds
        [
            {"op": "anomalous_overhead_offsets", "seed": seed, "slew_scale": scale, "visits": visits}
            for seed, scale in runs
        ]
    )
    for (seed, scale), expected in zip(runs, productions, strict=True):
        ours = AnomalousOverhead(seed, scale)
        assert [ours(visit) for visit in visits] == expected
        assert any(e < 0 for e in expected) and any(e > 0 for e in expected)
    record = ObservationArray(n=1)
    record["slewtime"], record["visittime"], record["exptime"] = visits[5].values()
    assert AnomalousOverhead(9, 0.5)(record) == AnomalousOverhead(9, 0.5)(visits[5])
