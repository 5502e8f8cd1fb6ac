"""Separate Python environments that tests run other software in (pandas 2, production rubin_sim).

Built with the project's own uv (``$UV``, which ``uv run`` sets; else ``uv`` on PATH; else the
``uv`` module), from the package index only, under ``/var/tmp`` so that later runs reuse them: a
directory is keyed by what it holds, and one that fails its probe is built again from nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

BUILD_TIMEOUT_SECONDS = 900


def uv_command() -> list[str]:
    """How to run the project's uv."""
    if os.environ.get("UV") and Path(os.environ["UV"]).exists():
        return [os.environ["UV"]]
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def built_venv(path: Path, requirements: Sequence[str], probe: str) -> Path:
    """The Python of a virtual environment at ``path`` holding ``requirements``.

    Reused when ``probe`` (Python code) runs there without error; otherwise the environment is
    created again from nothing (``uv venv --clear``) and installed. A failure to build fails the
    test that needs it, with uv's last words.
    """
    python = path / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0:
        return python
    uv = uv_command()
    steps = [
        [*uv, "venv", "--clear", str(path), "--python", sys.executable],
        [*uv, "pip", "install", "--python", str(python), *requirements],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS)
        if result.returncode != 0:
            pytest.fail(f"cannot build the environment at {path}: {result.stderr.strip()[-400:]}")
    check = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail(f"the environment at {path} fails its probe: {check.stderr.strip()[-400:]}")
    return python
