"""Package environments simulations ran in (``conda_env``), keyed as the reference keys them."""

from __future__ import annotations

import sqlalchemy as sa

from .access import DatabaseAccess
from .values import as_sha256


class CondaEnvs(DatabaseAccess):
    """Writing and finding ``conda_env`` rows."""

    def record_conda_env(self, conda_list: str | bytes, conn: sa.Connection | None = None) -> bytes:
        """Store a package environment once, as the reference does; return its key.

        ``conda_list`` is the JSON text ``conda list --json`` printed (``bytes`` as read, or
        ``str``, keyed by its UTF-8 encoding). The key is the SHA-256 of exactly those bytes and
        ``conda_env`` holds that text as JSONB, so the same output gives the same key and row
        whichever implementation stored it.
        """
        from ..environment import parse_conda_list

        env_hash, text = parse_conda_list(conda_list)
        with self._writing(conn) as c:
            c.execute(
                sa.text(
                    "INSERT INTO conda_env (conda_env_hash, conda_env) VALUES (:hash, CAST(:env AS JSONB)) "
                    "ON CONFLICT (conda_env_hash) DO NOTHING"
                ),
                {"hash": env_hash, "env": text},
            )
        return env_hash

    def conda_env_is_saved(self, conda_env_hash: bytes | str) -> bool:
        """Whether an environment with this key (bytes or hex) is stored."""
        with self._connect() as conn:
            found = conn.execute(
                sa.text("SELECT EXISTS (SELECT 1 FROM conda_env WHERE conda_env_hash = :hash)"),
                {"hash": as_sha256(conda_env_hash)},
            )
            return bool(found.scalar())
