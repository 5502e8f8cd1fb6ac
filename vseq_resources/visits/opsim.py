"""Conversion between opsim sqlite files (the scheduler's output) and ``visits.h5``."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd

from ..atomic import atomic_output
from ..errors import InvalidInputError
from .h5 import read_tables, write_visits_h5
from .table import OBSERVATIONS_KEY


def opsim_to_h5(sqlite_path: str | os.PathLike[str], h5_path: str | os.PathLike[str]) -> Path:
    """Convert an opsim sqlite file to ``visits.h5``: every table becomes a key of the same name."""
    sqlite_path = Path(sqlite_path)
    if not sqlite_path.is_file():
        raise InvalidInputError(f"{sqlite_path} does not exist or is not a file")
    try:
        with _sqlite(sqlite_path, read_only=True) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
                )
            ]
            if OBSERVATIONS_KEY not in names:
                raise InvalidInputError(
                    f"{sqlite_path} has no {OBSERVATIONS_KEY} table (it has: {', '.join(names)})"
                )
            tables = {name: pd.read_sql_query(f'SELECT * FROM "{name}"', conn) for name in names}
    except sqlite3.DatabaseError as err:
        raise InvalidInputError(f"{sqlite_path} is not a readable opsim sqlite file: {err}") from None
    observations = tables.pop(OBSERVATIONS_KEY)
    return write_visits_h5(h5_path, observations, tables)


def h5_to_opsim(
    h5_path: str | os.PathLike[str], sqlite_path: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Convert a ``visits.h5`` back to an opsim sqlite file: every key becomes a table.

    The sqlite file is built under a temporary name and renamed into place; an existing file is
    replaced only with ``overwrite``.
    """
    h5_path, sqlite_path = Path(h5_path), Path(sqlite_path)
    if sqlite_path.exists() and not overwrite:
        raise InvalidInputError(f"{sqlite_path} already exists")
    frames = read_tables(h5_path, None)
    with atomic_output(sqlite_path, ".db") as temporary, _sqlite(temporary, read_only=False) as conn:
        for name, frame in frames.items():
            frame.to_sql(name, conn, index=False)
        conn.commit()
    return sqlite_path


class _sqlite:
    """A sqlite3 connection that is closed on exit (sqlite3's own context manager only commits)."""

    def __init__(self, path: Path, read_only: bool) -> None:
        uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rwc'}"
        self.conn = sqlite3.connect(uri, uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
