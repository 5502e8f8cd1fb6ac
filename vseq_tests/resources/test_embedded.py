"""The embedded PostgreSQL server starts, answers SQL, and is reused by later calls."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from vseq_resources.embedded import embedded_database_url, stop_embedded_database


def test_embedded_server_starts_and_is_reused() -> None:
    state = Path(tempfile.mkdtemp(prefix="vseq-embedded-", dir="/var/tmp"))
    try:
        url = embedded_database_url(state)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 40 + 2")).scalar() == 42
        engine.dispose()
        pid = (state / "pgdata" / "postmaster.pid").read_text().split()[0]
        assert embedded_database_url(state) == url
        assert (state / "pgdata" / "postmaster.pid").read_text().split()[0] == pid  # reused, not restarted
    finally:
        stop_embedded_database(state)
    assert not (state / "pgdata" / "postmaster.pid").exists()  # really stopped


def test_no_runtime_dir_warning_where_xdg_runtime_dir_is_unset(tmp_path: Path) -> None:
    """Services, containers and CI have no ``XDG_RUNTIME_DIR``: the embedded server's package
    then falls back on the temporary directory, and nothing is printed about it (platformdirs'
    warning appeared in the README's first run)."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    code = "import sys; from vseq_resources import embedded; embedded.stop_embedded_database(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
