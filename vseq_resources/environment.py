"""The software environment a simulation ran in, as the JSON text ``conda list --json`` prints.

The archive keys an environment by the SHA-256 of that exact text (UTF-8), as the reference does
(``rubin_sim.sim_archive``: ``sha256(conda_list_stdout.encode())``), and stores the text itself in
``conda_env`` (JSONB): the same bytes in give the same key and the same stored content in both
implementations, so an environment is stored once in a mixed deployment and the reference's
``conda_env_is_saved`` recognises what vseq stored.

In a conda environment conda itself answers and its output is used as printed. Elsewhere (a uv or
pip virtual environment) the list is built from the installed Python distributions and serialised
the way conda serialises (:func:`conda_list_json`); the key is then the SHA-256 of that text.
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

from .errors import ConfigurationError, InvalidInputError

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


def package_environment_json() -> str:
    """This environment's package list as JSON text: ``conda list --json``'s output, unchanged,
    when conda runs this environment; else :func:`conda_list_json` of :func:`python_distributions`."""
    conda = shutil.which("conda")
    if conda and os.environ.get("CONDA_PREFIX"):
        return _conda_list_output(conda)
    return conda_list_json(python_distributions())


def package_environment() -> list[dict]:
    """This environment's package list, parsed (see :func:`package_environment_json`)."""
    return json.loads(package_environment_json())


def conda_list_json(packages: list[dict]) -> str:
    """A package list as conda prints it (two-space indent, sorted keys, final newline)."""
    return json.dumps(packages, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


def parse_conda_list(text: str | bytes, source: str = "the environment") -> tuple[bytes, str]:
    """The key (SHA-256 of the exact bytes) and the text of a ``conda list --json`` output.

    A ``str`` is keyed by its UTF-8 encoding, as the reference keys conda's decoded stdout. Raises
    :class:`InvalidInputError` (one line naming ``source``) unless it is a JSON list of package
    objects each with a ``name``.
    """
    import hashlib

    raw = text if isinstance(text, bytes) else text.encode()
    try:
        decoded = raw.decode()
        packages = json.loads(decoded)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"{source} is not the JSON of 'conda list --json': {err}") from None
    if not isinstance(packages, list) or not all(isinstance(p, dict) and "name" in p for p in packages):
        raise InvalidInputError(f"{source} is not a JSON list of packages as 'conda list --json' prints")
    if "\\u0000" in decoded:
        raise InvalidInputError(f"{source} holds a NUL character, which the database cannot store")
    return hashlib.sha256(raw).digest(), decoded


def _conda_list_output(conda: str) -> str:
    try:
        result = subprocess.run(
            [conda, "list", "--json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=CONDA_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise ConfigurationError(f"'conda list --json' failed: {type(err).__name__}: {err}") from err
    try:
        parse_conda_list(result.stdout, "the output of 'conda list --json'")
    except InvalidInputError as err:
        raise ConfigurationError(str(err)) from None
    return result.stdout


def python_distributions() -> list[dict]:
    """Installed Python distributions as ``conda list --json`` would describe them, sorted by name.

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
    return sorted(seen.values(), key=lambda p: (p["name"], p["version"]))


def _normalize(name: str) -> str:
    """PEP 503 normalisation, which is also how conda spells Python package names."""
    return re.sub(r"[-_.]+", "-", name).lower()
