"""Connections to the metadata database: session settings and readable connection failures.

Every connection vseq opens works in the archive's schema and in UTC: ``search_path`` makes the
unqualified names of :mod:`.schema` and of the SQL resolve to that schema, and a UTC session makes
timestamps come back in UTC and the reference view's date casts (still present on an archive not
yet migrated) agree with ours. UUID columns come back as ``uuid.UUID`` on these connections only.
"""

from __future__ import annotations

import re

import psycopg2.extras
import sqlalchemy as sa

from ..config import validate_schema_name
from ..errors import ConfigurationError, DatabaseUnavailableError, PermissionDeniedError, VseqError
from .schema import VSEQ_TABLES

_AUTH_FAILURES = (
    "password authentication failed",
    "no password supplied",
    "peer authentication failed",
    "no pg_hba.conf entry",
    "role ",
    "permission denied for database",
)


def configure_engine(engine: sa.Engine, schema: str) -> None:
    """Make every new connection of ``engine`` use ``schema`` and UTC (a dedicated engine).

    Connections already pooled predate the settings, so the pool is replaced (connections checked
    out keep working and are closed when returned).
    """
    validate_schema_name(schema)

    @sa.event.listens_for(engine, "connect")
    def _session_settings(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        psycopg2.extras.register_uuid(conn_or_curs=dbapi_connection)
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO \"{schema}\"; SET timezone TO 'UTC'")
        # A SET inside a transaction that the pool later rolls back would be undone.
        dbapi_connection.commit()

    engine.dispose(close=False)


def describe_location(url: sa.URL) -> str:
    """``host:port/database`` of a URL, for messages (never the password)."""
    host = url.host or url.query.get("host") or "local socket"
    if isinstance(host, tuple):
        host = ",".join(host)
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database or ''}"


def connection_error(err: sa.exc.OperationalError, url: sa.URL) -> ConfigurationError:
    """One line saying why connecting failed: unreachable, refused credentials or no database."""
    reason = _libpq_reason(str(err.orig) if err.orig is not None else str(err))
    where = describe_location(url)
    lowered = reason.lower()
    if re.search(r'database ".*" does not exist', lowered):
        return ConfigurationError(f"metadata database at {where} does not exist ({reason})")
    if any(marker in lowered for marker in _AUTH_FAILURES):
        return ConfigurationError(f"metadata database at {where} refused user {url.username!r}: {reason}")
    return DatabaseUnavailableError(f"cannot reach the metadata database at {where}: {reason}")


INSUFFICIENT_PRIVILEGE = "42501"
UNDEFINED_TABLE = "42P01"


def statement_error(err: sa.exc.DBAPIError, url: sa.URL) -> VseqError | None:
    """A one-line vseq error for a statement that failed for a reason outside the caller's
    control: the connection was lost (:class:`DatabaseUnavailableError`, worth retrying) or the
    role lacks a privilege (:class:`PermissionDeniedError`), or a table of vseq's own is missing
    from a schema the reference created and vseq has not adopted (:class:`ConfigurationError`
    naming ``migrate``). None for any other failure."""
    orig = getattr(err, "orig", None)
    reason = _libpq_reason(str(orig) if orig is not None else str(err))
    where = describe_location(url)
    pgcode = getattr(orig, "pgcode", None)
    if pgcode == UNDEFINED_TABLE and any(f'"{name}"' in reason for name in VSEQ_TABLES):
        return ConfigurationError(
            f"the metadata schema at {where} is not adopted by vseq yet ({reason}): "
            "run 'vseqarchive migrate' first"
        )
    if pgcode == INSUFFICIENT_PRIVILEGE:
        return PermissionDeniedError(
            f"the metadata database at {where} refused user {url.username!r}: {reason}"
        )
    if err.connection_invalidated:
        return DatabaseUnavailableError(f"lost the connection to the metadata database at {where}: {reason}")
    if isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError):
        # Server-side aborts worth retrying: deadlock, serialization failure, statement timeout...
        return DatabaseUnavailableError(f"the metadata database at {where} failed: {reason}")
    return None


def _libpq_reason(message: str) -> str:
    """The informative part of a libpq message, on one line."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    if "failed: " in first:
        first = first.split("failed: ", 1)[1]
    return re.sub(r"^(FATAL|ERROR):\s+", "", first).strip()
