"""Reading and writing local visits files for the commands: h5, opsim sqlite, csv, parquet."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_output
from ..errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

H5_SUFFIXES = (".h5", ".hdf5", ".hdf")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
OPSIM_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")


def opsim_suffixes() -> tuple[str, ...]:
    return OPSIM_SUFFIXES


def existing_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}")
    return path


def load_visits_file(path: str | Path) -> pd.DataFrame:
    """The visits (the ``observations`` table) of a visits.h5 or opsim sqlite file."""
    from ..visits import read_visits_h5

    path = existing_file(path)
    if path.suffix.lower() in opsim_suffixes():
        with _converted_to_h5(path) as h5_path:
            return read_visits_h5(h5_path)
    return read_visits_h5(path)


@contextmanager
def _converted_to_h5(sqlite_path: Path) -> Iterator[Path]:
    from ..tempfiles import local_temporary, space_checked
    from ..visits import opsim_to_h5

    with local_temporary("convert") as tmp:
        h5_path = tmp / "visits.h5"
        with space_checked(tmp, f"the visits.h5 converted from {sqlite_path}"):
            opsim_to_h5(sqlite_path, h5_path)
        yield h5_path


def write_visits_file(visits: pd.DataFrame, destination: str | Path) -> Path:
    """Write visits to ``destination`` in the format its extension names, atomically."""
    destination = Path(destination)
    suffix = destination.suffix.lower()
    if suffix not in H5_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES + opsim_suffixes():
        raise InvalidInputError(
            f"cannot tell the format of {destination.name!r}: use .h5, .db (opsim sqlite), .csv or .parquet"
        )
    if not destination.parent.is_dir():
        raise NotFoundError(f"no such directory: {destination.parent}")
    with atomic_output(destination, suffix) as tmp:
        tmp.unlink()  # each writer below creates the file
        if suffix in H5_SUFFIXES:
            from ..visits import write_visits_h5

            write_visits_h5(tmp, visits)
        elif suffix in CSV_SUFFIXES:
            visits.to_csv(tmp, index=False)
        elif suffix in PARQUET_SUFFIXES:
            try:
                visits.to_parquet(tmp, index=False)
            except ImportError as err:
                raise InvalidInputError(f"parquet output needs pyarrow: {err}") from None
        else:
            import sqlite3

            with sqlite3.connect(tmp) as conn:
                visits.to_sql("observations", conn, index=False)
            conn.close()
    return destination
