"""The software environment a simulation ran in, in the shape of ``conda list --json``.

The ``conda_env`` table and the ``conda_packages`` view of the archive expect that JSON list
(objects with name, version, channel, base_url, platform, dist_name, build_number,
build_string). In a conda environment conda itself answers; elsewhere (a uv or pip virtual
environment) the same shape is built from the installed Python distributions.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import shutil
import subprocess
import sysconfig

from .errors import ConfigurationError

log = logging.getLogger(__name__)

PACKAGE_KEYS = (
    "base_url",
    "build_number",
    "build_string",
    "channel",
    "dist_name",
    "name",
    "platform",
    "version",
)
PYPI_BASE_URL = "https://pypi.org/"
CONDA_TIMEOUT_SECONDS = 120


def package_environment() -> list[dict]:
    """The installed packages, sorted by name: from conda when it runs this environment."""
    conda = shutil.which("conda")
    if conda and os.environ.get("CONDA_PREFIX"):
        return _conda_packages(conda)
    return python_distributions()


def _conda_packages(conda: str) -> list[dict]:
    try:
        result = subprocess.run(
            [conda, "list", "--json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=CONDA_TIMEOUT_SECONDS,
        )
        packages = json.loads(result.stdout)
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as err:
        raise ConfigurationError(f"'conda list --json' failed: {type(err).__name__}: {err}") from err
    if not isinstance(packages, list) or not all(isinstance(p, dict) and "name" in p for p in packages):
        raise ConfigurationError("'conda list --json' did not print a list of packages")
    return sorted(packages, key=_sort_key)


def python_distributions() -> list[dict]:
    """Installed Python distributions as ``conda list --json`` would describe them.

    Channel ``pypi``, ``build_number`` 0, ``build_string`` ``pypi``, the platform of this
    interpreter. A distribution installed twice on ``sys.path`` is listed once: the copy found
    first, which is the one imported.
    """
    platform = sysconfig.get_platform()
    seen: dict[str, dict] = {}
    for dist in importlib.metadata.distributions():
        raw_name = dist.metadata["Name"]
        if not raw_name:
            continue
        name = _normalize(raw_name)
        if name in seen:
            continue
        version = dist.version
        seen[name] = {
            "base_url": PYPI_BASE_URL,
            "build_number": 0,
            "build_string": "pypi",
            "channel": "pypi",
            "dist_name": f"{name}-{version}",
            "name": name,
            "platform": platform,
            "version": version,
        }
    return sorted(seen.values(), key=_sort_key)


def _normalize(name: str) -> str:
    """PEP 503 normalisation, which is also how conda spells Python package names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _sort_key(package: dict) -> tuple[str, str, str]:
    return (str(package["name"]), str(package.get("version", "")), str(package.get("channel", "")))
