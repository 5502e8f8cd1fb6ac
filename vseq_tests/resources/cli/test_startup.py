"""Start-up of metadata-only ``vseqarchive`` commands (issue 8, CLI start-up).

A command that only reads or annotates the metadata database must not import the store's stack
(``lsst.resources``, which pulls numpy through ``lsst.utils``) nor pandas: they were most of a
small command's start-up time. Each command runs as its own process of the installed console
script under ``python -X importtime``, which names every module the process imports.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from vseq_resources.cli.base import CliState

from .conftest import Vseq, subprocess_env

VSEQARCHIVE = str(Path(sys.executable).with_name("vseqarchive"))
STORE_STACK = ("lsst.resources", "lsst.utils")
HEAVY = (*STORE_STACK, "numpy", "pandas")


@pytest.fixture
def store_base(file_base: str) -> str:
    """One store kind is enough here: a metadata-only command never opens the store."""
    return file_base


@pytest.fixture
def env(cli_env: Vseq, tmp_path: Path) -> dict[str, str]:
    """The test environment; bytecode cached under ``tmp_path`` so that only the first process
    compiles the sources (this workplace sets PYTHONDONTWRITEBYTECODE and uv installs no .pyc)."""
    values = {k: v for k, v in subprocess_env(cli_env).items() if k != "PYTHONDONTWRITEBYTECODE"}
    values["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    return values


@pytest.fixture
def sim(cli_env: Vseq, opsim_db: Path) -> str:
    made = cli_env.out("record-visitseq-metadata", "simulations", str(opsim_db), "start-up test")
    cli_env("tag", made, "prenight", "ideal")
    cli_env("comment", made, "a comment", "--author", "tester")
    return str(uuid.UUID(made))


def imported_by(env: dict[str, str], *args: str, status: int = 0) -> tuple[set[str], str, str]:
    """The modules one ``vseqarchive`` process imports, its stdout and its other stderr."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", VSEQARCHIVE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules, other = set(), []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            modules.add(line.rsplit("|", 1)[-1].strip())
        else:
            other.append(line)
    assert done.returncode == status, (args, done.stdout, other)
    return modules, done.stdout, "\n".join(other)


def heavy(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if m in names)


def test_metadata_only_commands_import_neither_store_nor_pandas(env: dict[str, str], sim: str) -> None:
    lean = [
        ("is-tagged", sim, "ideal"),
        ("tag", sim, "kept"),
        ("untag", sim, "kept"),
        ("comment", sim, "another comment"),
        ("get-visitseq-metadata", sim),
        ("get-visitseq-url", sim),
        ("set-visitseq-url", sim, "file:///elsewhere/visits.h5"),
        ("update-visitseq-metadata", sim, "visitseq_label", "renamed"),
        ("record-conda-env",),
        ("--help",),
    ]
    for args in lean:
        modules, _, _ = imported_by(env, *args)
        assert "vseq_resources.cli" in modules, args  # really measured the CLI
        assert heavy(modules) == [], (args, heavy(modules))

    modules, out, _ = imported_by(env, "is-tagged", sim, "ideal")
    assert out == "true\n"
    assert "sqlalchemy" in modules and "vseq_resources.store" not in modules
    modules, out, _ = imported_by(env, "is-tagged", sim, "kept")
    assert out == "false\n"


def test_frame_commands_do_not_import_the_store(env: dict[str, str], sim: str) -> None:
    """These print what the metadata layer returns as DataFrames (so pandas stays), but the
    store is never opened."""
    for args, printed in (
        (("get-comments", sim), "a comment"),
        (("show", sim), "a comment"),
        (("search", "--tag", "ideal"), sim),
        (("query-nightly-stats", sim), ""),  # none recorded: prints nothing
    ):
        modules, out, _ = imported_by(env, *args)
        assert printed in out, (args, out)
        assert heavy(modules, STORE_STACK) == [], (args, heavy(modules, STORE_STACK))


def test_errors_stay_one_line_without_the_store(env: dict[str, str]) -> None:
    unknown = str(uuid.UUID(int=1))
    modules, out, err = imported_by(env, "is-tagged", unknown, "ideal", status=1)
    assert out == "" and err.startswith("vseqarchive: error: no visit sequence ") and err.count("\n") == 0
    assert heavy(modules) == []
    modules, out, err = imported_by(env, "tag", "not-a-uuid", "x", status=1)
    assert out == "" and err == "vseqarchive: error: invalid UUID 'not-a-uuid'"
    assert heavy(modules) == []


def test_store_opens_when_a_metadata_only_archive_needs_it(cli_env: Vseq) -> None:
    state = CliState()
    try:
        archive = state.archive(store=False)
        assert archive._store is None
        assert state.archive() is archive and archive._store is not None  # opened on demand
        assert str(archive.store.base) == cli_env.store
    finally:
        state.close()
