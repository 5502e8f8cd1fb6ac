"""Shared fixtures: one prepared site-data directory for the whole session (it takes seconds)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vseq_resources.simulation import SiteData, prepare_site_data

DAY_OBS = dt.date(2026, 12, 1)


@pytest.fixture(scope="session")
def site_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("site_data")


@pytest.fixture(scope="session")
def site_data(site_data_dir: Path, monkeypatch_session: pytest.MonkeyPatch) -> SiteData:
    return prepare_site_data(DAY_OBS, DAY_OBS, cache_dir=site_data_dir)


@pytest.fixture(scope="session")
def monkeypatch_session():
    """No real rubin_sim_data may leak into these tests: they exercise the offline path."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RUBIN_SIM_DATA_DIR", raising=False)
        yield mp
