"""Helpers shared by the metadata tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

REFERENCE_SQL = Path(__file__).parents[2] / "fixtures" / "reference_schema.sql"
AddSimulation = Callable[..., uuid.UUID]
"""The ``add_simulation`` fixture: ``add(created, first, last, tags=..., telescope=..., label=...)``."""

NOW = dt.datetime(2025, 12, 9, 18, 0, tzinfo=dt.UTC)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def create_reference_schema(url: str, schema: str) -> None:
    """Create ``schema`` the way the reference implementation does (no version table)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(REFERENCE_SQL.read_text().replace("__SCHEMA__", f'"{schema}"'))
    engine.dispose()
