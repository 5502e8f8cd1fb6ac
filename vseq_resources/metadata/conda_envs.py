"""Package environments simulations ran in (``conda_env``), stored once per content hash."""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..errors import InvalidInputError
from . import schema as s
from .access import DatabaseAccess
from .values import canonical_json


class CondaEnvs(DatabaseAccess):
    """Writing ``conda_env``."""

    def record_conda_env(self, packages: list[dict[str, Any]], conn: sa.Connection | None = None) -> bytes:
        """Store a package list (``conda list --json`` shape) once; return its hash.

        The hash is the SHA-256 of the canonical JSON of the list sorted by its canonical JSON
        entries, so the same environment gives the same hash whatever order it was listed in.
        """
        if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
            raise InvalidInputError("a conda environment is a list of package dicts")
        ordered = sorted(packages, key=canonical_json)
        env_hash = hashlib.sha256(canonical_json(ordered)).digest()
        statement = pg_insert(s.conda_env).values(conda_env_hash=env_hash, conda_env=ordered)
        with self._writing(conn) as c:
            c.execute(statement.on_conflict_do_nothing(index_elements=["conda_env_hash"]))
        return env_hash
