"""Which site data a simulation runs on: the real ``rubin_sim_data``, or vseq's offline stand-in.

rubin_scheduler finds everything through ``$RUBIN_SIM_DATA_DIR``. When that directory holds the
real data (almanac, pre-computed sky maps, ``versions.txt``) vseq uses it as is. Otherwise vseq
prepares, for the nights to simulate, a directory with the same layout holding what a simulation
needs and what can honestly be computed offline:

- ``site_models/{sunsets,sun_moon,planet_locations}.npz``: the almanac, computed with astropy
  (:mod:`.almanac`) for the night before the first simulated night through the night after the
  last, plus the day the survey started (``ModelObservatory`` looks up the Sun there);
- ``site_models/icover.3.5292.23.0.txt``: the field tessellation area surveys point at, as a
  near-uniform stand-in (:mod:`.fields`);
- ``skybrightness_pre/dark_maps.npz``: the darkest sky per pixel, from :mod:`.sky`'s model, for
  ``M5DiffBasisFunction``;
- ``versions.txt``: what ``sim_runner`` copies into the output's ``info`` table, naming the
  stand-ins so the output itself says it is not a production run.

The sky itself is the approximate model of :mod:`.sky`, installed on the observatory by the
runner. Prepared directories are cached under ``<state dir>/site_data/<key>`` (the key names the
nights and survey start), built in a temporary directory and renamed into place, so concurrent
preparations never see half-written data.

:class:`SiteData` carries the description every simulated sequence records in its metadata.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import astropy
import numpy as np
from rubin_scheduler.data import data_versions
from rubin_scheduler.skybrightness_pre import dark_sky
from rubin_scheduler.utils import SURVEY_START_MJD

from ..config import default_state_dir
from ..dayobs import dayobs_int, dayobs_mjd_start, parse_dayobs
from .almanac import Span, write_almanac
from .fields import FOV_RADIUS_DEG, N_FIELDS, write_fields
from .sky import MODEL_NAME, dark_maps

SiteDataKind = Literal["rubin_sim_data", "vseq_approximate"]
FORMAT_VERSION = 3
ALMANAC_FILES = ("sunsets.npz", "sun_moon.npz", "planet_locations.npz")
DESCRIPTION_FILE = "vseq_site_data.json"


@dataclass(frozen=True)
class SiteData:
    """A directory usable as ``RUBIN_SIM_DATA_DIR`` and what it is.

    ``description`` is JSON-safe and goes into each simulated sequence's metadata, so that a
    simulation on the approximate sky is never mistaken for a production one.
    """

    directory: Path
    kind: SiteDataKind
    description: dict[str, Any] = field(default_factory=dict)

    @property
    def approximate(self) -> bool:
        return self.kind == "vseq_approximate"

    @contextmanager
    def activated(self) -> Iterator[SiteData]:
        """Point rubin_scheduler at this directory (process-wide) for the duration of the block.

        rubin_scheduler reads ``RUBIN_SIM_DATA_DIR`` whenever it loads a file, so the variable
        must stay set while schedulers and observatories are built and while ``sim_runner``
        writes its output. ``dark_sky`` caches the dark maps of the first directory it saw on the
        function object; the cache is dropped so each directory's own maps are used.
        """
        previous = os.environ.get("RUBIN_SIM_DATA_DIR")
        os.environ["RUBIN_SIM_DATA_DIR"] = str(self.directory)
        _forget_dark_sky_cache()
        try:
            yield self
        finally:
            if previous is None:
                os.environ.pop("RUBIN_SIM_DATA_DIR", None)
            else:
                os.environ["RUBIN_SIM_DATA_DIR"] = previous
            _forget_dark_sky_cache()


def _forget_dark_sky_cache() -> None:
    if hasattr(dark_sky, "data"):
        del dark_sky.data


def real_site_data_dir() -> Path | None:
    """``$RUBIN_SIM_DATA_DIR`` when it holds the real data (almanac, sky maps, versions), else None."""
    value = os.environ.get("RUBIN_SIM_DATA_DIR")
    if not value:
        return None
    root = Path(value)
    if (root / DESCRIPTION_FILE).exists():
        return None  # one of vseq's own prepared directories, left set by a caller
    has_almanac = all((root / "site_models" / name).is_file() for name in ALMANAC_FILES)
    has_sky = any((root / "skybrightness_pre").glob("*.h5"))
    has_versions = (root / "versions.txt").is_file()
    return root if has_almanac and has_sky and has_versions else None


def prepare_site_data(
    first_day_obs: str | int | dt.date,
    last_day_obs: str | int | dt.date,
    *,
    cache_dir: Path | str | None = None,
    survey_start_mjd: float = SURVEY_START_MJD,
) -> SiteData:
    """Site data covering the nights ``first_day_obs``..``last_day_obs`` (inclusive).

    Uses ``$RUBIN_SIM_DATA_DIR`` when it holds the real data; otherwise returns a (cached) vseq
    stand-in directory under ``cache_dir`` (default ``<state dir>/site_data``).
    """
    real = real_site_data_dir()
    if real is not None:
        return SiteData(
            directory=real,
            kind="rubin_sim_data",
            description={
                "kind": "rubin_sim_data",
                "rubin_sim_data_dir": str(real),
                "sky_model": "rubin_scheduler SkyModelPre (pre-computed sky maps)",
                "almanac": "rubin_sim_data site_models",
                "versions": data_versions() or {},
            },
        )
    first, last = parse_dayobs(first_day_obs), parse_dayobs(last_day_obs)
    if last < first:
        raise ValueError(f"last_day_obs {last} is before first_day_obs {first}")
    root = Path(cache_dir) if cache_dir is not None else default_state_dir() / "site_data"
    key = f"v{FORMAT_VERSION}_{dayobs_int(first)}-{dayobs_int(last)}_start{survey_start_mjd:.4f}"
    target = root / key
    if not (target / DESCRIPTION_FILE).is_file():
        _build(target, first, last, survey_start_mjd)
    description = json.loads((target / DESCRIPTION_FILE).read_text())
    return SiteData(directory=target, kind="vseq_approximate", description=description)


def _build(target: Path, first: dt.date, last: dt.date, survey_start_mjd: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        window = Span(dayobs_mjd_start(first) - 1.0, dayobs_mjd_start(last) + 2.0)
        survey_start = Span(survey_start_mjd - 1.0, survey_start_mjd + 0.5)
        write_almanac(work / "site_models", [window, survey_start])
        write_fields(work / "site_models")
        (work / "skybrightness_pre").mkdir()
        np.savez(work / "skybrightness_pre" / "dark_maps.npz", dark_maps=dark_maps())
        almanac = (
            f"astropy {astropy.__version__} computed for MJD {window.start:.1f}..{window.end:.1f}"
            f" and {survey_start.start:.1f}..{survey_start.end:.1f} (survey start)"
        )
        (work / "versions.txt").write_text(
            f"site_models,vseq_almanac_astropy_{astropy.__version__}_{target.name}\n"
            f"skybrightness_pre,vseq_approximate_sky_v{FORMAT_VERSION}\n"
        )
        description = {
            "kind": "vseq_approximate",
            "sky_model": MODEL_NAME,
            "almanac": almanac,
            "dark_maps": "vseq approximate sky, dark term at minimum airmass",
            "field_tessellation": (
                f"Fibonacci lattice of {N_FIELDS} points covering the sky at the {FOV_RADIUS_DEG} deg camera "
                "radius (stand-in for icover.3.5292.23.0, 5292 points)"
            ),
            "first_day_obs": first.isoformat(),
            "last_day_obs": last.isoformat(),
            "survey_start_mjd": survey_start_mjd,
        }
        (work / DESCRIPTION_FILE).write_text(json.dumps(description, indent=2))
        try:
            work.rename(target)
        except OSError:
            if not (target / DESCRIPTION_FILE).is_file():
                raise  # not a concurrent build that finished first
    finally:
        shutil.rmtree(work, ignore_errors=True)
