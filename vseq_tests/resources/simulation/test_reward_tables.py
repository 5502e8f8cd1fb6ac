"""vseq's reward tables against rubin_scheduler's, at every decision of a short simulation."""

from __future__ import annotations

import pandas as pd
import pytest
from rubin_scheduler.scheduler.schedulers.core_scheduler import CoreScheduler

from vseq_resources.simulation import SiteData, run_simulations
from vseq_resources.simulation.reward_tables import reward_table
from vseq_resources.simulation.variants import variant_by_name

from .conftest import DAY_OBS

DEFAULT_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"


def test_reward_table_is_rubin_schedulers_at_every_decision(
    site_data: SiteData, site_data_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each decision's table, built both ways from the same scheduler state, is the same frame
    (values, dtypes, column order, index); the simulation itself goes on with rubin's. A
    0.2-hour run in the morning twilight, where the greedy tier decides at every visit (in the
    night, pairs fill the queue for half an hour at once)."""
    rubin = CoreScheduler.make_reward_df
    compared = []

    def both(scheduler: CoreScheduler, conditions=None, accum: bool = True) -> pd.DataFrame:
        expected = rubin(scheduler, conditions, accum=accum)
        pd.testing.assert_frame_equal(reward_table(scheduler, conditions, accum=accum), expected)
        compared.append(len(expected))
        return expected

    monkeypatch.setattr(CoreScheduler, "make_reward_df", both)
    run_simulations(
        DEFAULT_CONFIG,
        day_obs=DAY_OBS,
        variants=(variant_by_name("delay_450"),),  # morning twilight: a decision a visit
        site_data_dir=site_data_dir,
        record_rewards=True,
        duration_hours=0.2,
        workers=1,
        fast=False,
    )
    assert len(compared) > 10 and min(compared) > 20
