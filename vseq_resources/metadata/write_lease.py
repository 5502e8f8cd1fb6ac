"""The schema's write lease: a PostgreSQL advisory lock that writes hold shared while they store
files no row refers to yet, and that ``verify --repair`` takes exclusively before removing young
orphans (:meth:`vseq_resources.archive.VisitSequenceArchive.verify`).

Each holder keeps the lock on a connection of its own at session level, so no transaction stays
open during an upload, and the lock dies with the connection: a killed writer never blocks repair.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from .access import DatabaseAccess

log = logging.getLogger(__name__)

WRITE_LEASE_KEY = "vseq write lease"
"""With the schema name, the key of the advisory lock (one lease per archive schema)."""


class WriteLease(DatabaseAccess):
    """Taking the schema's write lease, shared (a write) or exclusively (a repair)."""

    def _lease_params(self) -> dict[str, str]:
        return {"k": f"{WRITE_LEASE_KEY} {self.schema}"}

    @contextmanager
    def write_lease(self) -> Iterator[None]:
        """Hold the lease shared for the duration of the block (waits while a repair holds it)."""
        with self._connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock_shared(hashtext(:k))"), self._lease_params())
            conn.commit()  # session-level lock: no transaction stays open during the upload
            try:
                yield
            finally:
                try:
                    conn.execute(
                        sa.text("SELECT pg_advisory_unlock_shared(hashtext(:k))"), self._lease_params()
                    )
                    conn.commit()
                except Exception:  # noqa: BLE001 - a lost connection released the lock already
                    log.debug("write lease already released with its connection")

    @contextmanager
    def no_write_running(self) -> Iterator[bool]:
        """Take the lease exclusively if no write holds it; yields whether it was taken (while
        taken, new writes wait)."""
        with self._connect() as conn:
            taken = bool(
                conn.execute(
                    sa.text("SELECT pg_try_advisory_lock(hashtext(:k))"), self._lease_params()
                ).scalar()
            )
            conn.commit()
            try:
                yield taken
            finally:
                if taken:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:k))"), self._lease_params())
                    conn.commit()
