"""The package environment in the ``conda list --json`` shape."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sysconfig
from importlib.metadata import version
from pathlib import Path

import pytest

from vseq_resources import environment
from vseq_resources.environment import (
    PACKAGE_KEYS,
    conda_list_json,
    package_environment,
    package_environment_json,
    parse_conda_list,
    python_distributions,
)
from vseq_resources.errors import ConfigurationError, InvalidInputError

CONDA_OUTPUT = [
    {
        "base_url": "https://conda.anaconda.org/conda-forge",
        "build_number": 0,
        "build_string": "py311h_0",
        "channel": "conda-forge",
        "dist_name": "zlib-1.3.1-h_0",
        "name": "zlib",
        "platform": "linux-64",
        "version": "1.3.1",
    },
    {
        "base_url": "https://pypi.org/",
        "build_number": 0,
        "build_string": "pypi_0",
        "channel": "pypi",
        "dist_name": "astropy-7.0.0-pypi_0",
        "name": "astropy",
        "platform": "pypi",
        "version": "7.0.0",
    },
]


@pytest.fixture
def fake_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``conda`` on PATH that prints a fixed ``conda list --json``, inside a 'conda' env."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    conda = bin_dir / "conda"
    (tmp_path / "list.json").write_text(json.dumps(CONDA_OUTPUT, indent=2) + "\n")
    conda.write_text(f'#!/bin/sh\n[ "$1 $2" = "list --json" ] || exit 2\ncat {tmp_path / "list.json"}\n')
    conda.chmod(conda.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CONDA_PREFIX", str(tmp_path))
    return conda


def test_python_distributions_have_the_conda_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    packages = package_environment()
    assert packages == python_distributions()
    assert all(tuple(sorted(p)) == PACKAGE_KEYS for p in packages)
    names = [p["name"] for p in packages]
    assert names == sorted(names) and len(names) == len(set(names))
    pandas = next(p for p in packages if p["name"] == "pandas")
    assert pandas == {
        "base_url": "https://pypi.org/",
        "build_number": 0,
        "build_string": "pypi",
        "channel": "pypi",
        "dist_name": f"pandas-{version('pandas')}",
        "name": "pandas",
        "platform": sysconfig.get_platform(),
        "version": version("pandas"),
    }
    assert "lsst-resources" in names  # PEP 503 names, as conda spells them
    assert json.dumps(packages) == json.dumps(python_distributions())  # deterministic


def test_conda_answers_in_a_conda_environment(fake_conda: Path, tmp_path: Path) -> None:
    """conda's output is taken as printed (order, spacing): the reference keys its exact bytes."""
    assert package_environment_json() == (tmp_path / "list.json").read_text()
    assert package_environment() == CONDA_OUTPUT


def test_distributions_are_serialised_as_conda_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    text = package_environment_json()
    assert text == json.dumps(python_distributions(), indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    assert text == conda_list_json(json.loads(text))  # the stored text re-serialises to itself


def test_parse_conda_list_keys_the_exact_bytes() -> None:
    text = json.dumps(CONDA_OUTPUT)
    key, stored = parse_conda_list(text.encode())
    assert key == hashlib.sha256(text.encode()).digest() and stored == text
    assert parse_conda_list(text)[0] == key
    with pytest.raises(InvalidInputError, match="file x.json is not"):
        parse_conda_list("[{}]", "file x.json")


def test_conda_is_not_used_outside_a_conda_environment(
    fake_conda: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONDA_PREFIX")
    assert package_environment() == python_distributions()


def test_conda_failure_is_a_configuration_error(fake_conda: Path) -> None:
    fake_conda.write_text("#!/bin/sh\necho 'not json'\n")
    with pytest.raises(ConfigurationError, match="conda list --json"):
        package_environment()
    fake_conda.write_text("#!/bin/sh\nexit 3\n")
    with pytest.raises(ConfigurationError, match="conda list --json"):
        package_environment()


def test_normalized_names() -> None:
    assert environment._normalize("Foo_Bar.baz") == "foo-bar-baz"
