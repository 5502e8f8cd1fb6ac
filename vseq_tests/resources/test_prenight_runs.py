"""Which pre-night simulations are predictions and which re-simulations of the past."""

from __future__ import annotations

import datetime as dt

import pytest

from vseq_resources.prenight_runs import archived_tags, is_resimulation

NIGHT = dt.date(2026, 12, 5)
UTC = dt.UTC


@pytest.mark.parametrize(
    ("created", "resimulation"),
    [
        (dt.datetime(2026, 12, 5, 18, 0, tzinfo=UTC), False),  # the schedule: afternoon before
        (dt.datetime(2026, 12, 6, 3, 0, tzinfo=UTC), False),  # during the night (the evening demo)
        (dt.datetime(2026, 12, 6, 11, 59, tzinfo=UTC), False),  # the dayobs's last minute
        (dt.datetime(2026, 12, 6, 12, 0, tzinfo=UTC), True),  # the next dayobs
        (dt.datetime(2026, 12, 8, 18, 0, tzinfo=UTC), True),  # a backfill days later
        (dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4))), True),  # 12:00 UTC
    ],
)
def test_after_its_nights_dayobs_a_simulation_is_a_resimulation(
    created: dt.datetime, resimulation: bool
) -> None:
    assert is_resimulation(NIGHT, created) is resimulation
    assert is_resimulation(NIGHT.strftime("%Y%m%d"), created) is resimulation
    tags = archived_tags(["prenight", "ideal", "nominal"], resimulation)
    assert ("resimulation" in tags, "prenight" in tags) == (resimulation, not resimulation)
