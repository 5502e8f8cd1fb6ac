"""Configuration sources: file path, file:// URL, module:function, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from rubin_scheduler.scheduler.schedulers import CoreScheduler

from vseq_resources.errors import InvalidInputError
from vseq_resources.simulation import SiteData, load_scheduler_config

SMALL_CONFIG = """
from rubin_scheduler.scheduler.example import simple_greedy_survey
from rubin_scheduler.scheduler.schedulers import CoreScheduler

from vseq_resources.simulation.default_config import footprint_maps


def get_scheduler():
    survey = simple_greedy_survey(nside=32, bandname="r", footprints_hp=footprint_maps(32))
    return 32, CoreScheduler([[survey]], nside=32)
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "small_config.py"
    path.write_text(SMALL_CONFIG)
    return path


def test_from_path_and_file_url(site_data: SiteData, config_file: Path) -> None:
    with site_data.activated():
        by_path = load_scheduler_config(str(config_file))
        by_url = load_scheduler_config(config_file.as_uri())
    for config in (by_path, by_url):
        assert isinstance(config.scheduler, CoreScheduler)
        assert config.nside == 32
        assert config.observatory is None
        assert config.config_url == config_file.as_uri()
        assert config.source_text == SMALL_CONFIG


def test_from_module_function(site_data: SiteData) -> None:
    with site_data.activated():
        config = load_scheduler_config("vseq_resources.simulation.default_config:get_scheduler")
    assert config.config_url == "python:vseq_resources.simulation.default_config:get_scheduler"
    assert "def get_scheduler" in config.source_text
    surveys = [s for tier in config.scheduler.survey_lists for s in tier]
    bands = {b for s in surveys for b in (getattr(s, "bandname1", None), getattr(s, "bandname2", None)) if b}
    assert set("ugrizy") <= bands | {getattr(s, "bandname", None) for s in surveys}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nonexistent/config.py", "does not exist"),
        ("not_a_module_anywhere:get_scheduler", "cannot import"),
        ("vseq_resources.simulation.default_config:no_such_function", "no function"),
        ("/etc/hostname", "neither a .py file"),
    ],
)
def test_bad_sources(source: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_scheduler_config(source)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1\n", "defines no get_scheduler"),
        ("def get_scheduler():\n    return 'scheduler'\n", "expected a CoreScheduler"),
        ("def get_scheduler():\n    raise RuntimeError('boom')\n", "boom"),
        ("this is not python\n", "failed to load"),
    ],
)
def test_bad_scripts(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad_config.py"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=message):
        load_scheduler_config(path)
