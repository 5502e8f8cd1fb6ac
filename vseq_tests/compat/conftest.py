"""The production package in its own environment, and runners for both implementations.

Production is rubin-sim 2.6.2 from the package index, installed with the project's uv into
``/var/tmp/vseq-rubin-sim-2.6.2-venv`` (built from nothing when absent or broken, reused
otherwise). rubin-sim does not declare everything ``rubin_sim.sim_archive`` imports (a conda
environment brings them in production): ``lsst-resources`` with S3, ``psycopg2``, ``click`` and
``pyyaml`` are installed beside it, at the versions vseq uses.

Production's readers need no network: the almanac ``fetch_obsloctap_visits`` loads
(``$RUBIN_SIM_DATA_DIR/site_models``) is vseq's offline stand-in covering the test nights.
``conda`` is a script on PATH that prints a fixed ``conda list --json``, so both implementations'
``record-conda-env`` run "conda" themselves and key the same bytes.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from vseq_resources.simulation import prepare_site_data
from vseq_tests import services
from vseq_tests.venvs import built_venv

PRODUCTION_VERSION = "2.6.2"
PRODUCTION_VENV = Path(f"/var/tmp/vseq-rubin-sim-{PRODUCTION_VERSION}-venv")
PRODUCTION_REQUIREMENTS = (
    f"rubin-sim=={PRODUCTION_VERSION}",
    "lsst-resources[s3]==30.2026.4200",
    "psycopg2-binary==2.9.13",
    "click",
    "pyyaml",
)
PRODUCTION_PROBE = (
    "import rubin_sim, psycopg2, lsst.resources, click, yaml; assert rubin_sim.__version__ == '2.6.2'"
)
DRIVER = Path(__file__).with_name("production_driver.py")
NIGHTS = ("2026-04-11", "2026-04-12", "2026-04-13")
CONDA_LIST = [
    {
        "base_url": "https://conda.anaconda.org/conda-forge",
        "build_number": 0,
        "build_string": "pyhd8ed1ab_0",
        "channel": "conda-forge",
        "dist_name": "rubin-scheduler-4.6.0-pyhd8ed1ab_0",
        "name": "rubin-scheduler",
        "platform": "noarch",
        "version": "4.6.0",
    },
    {
        "base_url": "https://conda.anaconda.org/conda-forge",
        "build_number": 1,
        "build_string": "h4bc722e_1",
        "channel": "conda-forge",
        "dist_name": "zlib-1.3.1-h4bc722e_1",
        "name": "zlib",
        "platform": "linux-64",
        "version": "1.3.1",
    },
]
CONDA_OUTPUT = json.dumps(CONDA_LIST, indent=2, sort_keys=True) + "\n"
"""What the stand-in ``conda list --json`` prints (conda's own layout)."""

CONNECTION_VARIABLES = (
    "VSARCHIVE_PGHOST",
    "VSARCHIVE_PGPORT",
    "VSARCHIVE_PGUSER",
    "VSARCHIVE_PGDATABASE",
    "VSARCHIVE_PGSCHEMA",
    "VSEQ_DATABASE_URL",
    "PRENIGHT_INDEX_URL",
)


@dataclass
class Production:
    """Runs steps of ``production_driver.py`` in the production environment."""

    python: Path
    base_env: dict[str, str]

    def run(self, steps: list[dict[str, Any]], env: dict[str, str] | None = None) -> list[dict[str, Any]]:
        result = subprocess.run(
            [str(self.python), str(DRIVER)],
            input=json.dumps(steps),
            capture_output=True,
            text=True,
            env={**self.base_env, **(env or {})},
            timeout=900,
        )
        if result.returncode != 0 or "RESULTS\n" not in result.stdout:
            pytest.fail(f"production driver failed ({result.returncode}): {result.stderr[-3000:]}")
        return json.loads(result.stdout.split("RESULTS\n", 1)[1])

    def values(self, steps: list[dict[str, Any]], env: dict[str, str] | None = None) -> list[Any]:
        """The steps' values; a step that raised fails the test with production's message."""
        results = self.run(steps, env)
        for step, result in zip(steps, results, strict=True):
            if "error" in result:
                pytest.fail(f"production {step['op']} raised {result['error']}")
        return [r["value"] for r in results]


def database_env(url: str, schema: str | None = None) -> dict[str, str]:
    """The ``VSARCHIVE_PG*`` settings both implementations read, for a SQLAlchemy URL."""
    parsed = sa.make_url(url)
    host = parsed.host or str(parsed.query.get("host", ""))
    env = {
        "VSARCHIVE_PGHOST": host,
        "VSARCHIVE_PGPORT": str(parsed.port or 5432),
        "VSARCHIVE_PGUSER": parsed.username or "postgres",
        "VSARCHIVE_PGDATABASE": parsed.database or "postgres",
    }
    if schema is not None:
        env["VSARCHIVE_PGSCHEMA"] = schema
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return env


@pytest.fixture(scope="session")
def fake_conda(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a ``conda`` whose ``list --json`` prints :data:`CONDA_OUTPUT`."""
    root = tmp_path_factory.mktemp("conda")
    (root / "list.json").write_text(CONDA_OUTPUT)
    conda = root / "bin" / "conda"
    conda.parent.mkdir()
    conda.write_text(f'#!/bin/sh\n[ "$1 $2" = "list --json" ] || exit 2\ncat "{root / "list.json"}"\n')
    conda.chmod(conda.stat().st_mode | stat.S_IXUSR)
    return root


@pytest.fixture(scope="session")
def production(
    tmp_path_factory: pytest.TempPathFactory, s3_server: services.S3Server, fake_conda: Path
) -> Production:
    python = built_venv(PRODUCTION_VENV, PRODUCTION_REQUIREMENTS, PRODUCTION_PROBE)
    site_data = prepare_site_data(NIGHTS[0], NIGHTS[-1], cache_dir=tmp_path_factory.mktemp("site_data"))
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_VARIABLES}
    env.update(s3_server.env)
    env.update(
        {
            "RUBIN_SIM_DATA_DIR": str(site_data.directory),
            "LSST_DISABLE_BUCKET_VALIDATION": "1",
            "PATH": f"{fake_conda / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "CONDA_PREFIX": str(fake_conda),
            "PYTHONWARNINGS": "ignore",
        }
    )
    return Production(python=python, base_env=env)


@pytest.fixture
def conda_on_path(fake_conda: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The stand-in conda for vseq in this process (a conda environment, as production runs in)."""
    monkeypatch.setenv("PATH", f"{fake_conda / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CONDA_PREFIX", str(fake_conda))
    yield fake_conda
