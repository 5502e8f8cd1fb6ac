"""Visits tables: the ``visits.h5`` file, a reproducible content hash, opsim conversion, statistics.

One concept per module:

- `table`: what a visits table is (its time column, text columns, the check refusing non-visits);
- `nights`: the night (dayobs) of each visit, vectorised;
- `h5`: writing and reading ``visits.h5`` (pandas' fixed format, readable by pandas 2 and 3);
- `night_layout`: the extra nodes of ``visits.h5`` that let one night be read alone;
- `content_hash`: the reproducible hash of a visits table;
- `opsim`: conversion between opsim sqlite files and ``visits.h5``;
- `nightly_stats`: per-night statistics, as the ``nightly_stats`` table holds them.

The names below are the public interface; import them from here. The PyTables filter of new files
(``h5.COMPLIB``, ``h5.COMPLEVEL``) is read from `h5` when a file is written.
"""

from .content_hash import visits_content_hash
from .h5 import read_visits_h5, write_visits_h5
from .nightly_stats import (
    DEFAULT_STATS_COLUMNS,
    NIGHTLY_STATS_COLUMNS,
    STATS_QUANTILES,
    compute_nightly_stats,
)
from .nights import dayobs_ordinals
from .opsim import h5_to_opsim, opsim_to_h5
from .table import MJD_COLUMN, MJD_RANGE, OBSERVATIONS_KEY, VISITS_FILE_NAME, validate_observations

__all__ = [
    "DEFAULT_STATS_COLUMNS",
    "MJD_COLUMN",
    "MJD_RANGE",
    "NIGHTLY_STATS_COLUMNS",
    "OBSERVATIONS_KEY",
    "STATS_QUANTILES",
    "VISITS_FILE_NAME",
    "compute_nightly_stats",
    "dayobs_ordinals",
    "h5_to_opsim",
    "opsim_to_h5",
    "read_visits_h5",
    "validate_observations",
    "visits_content_hash",
    "write_visits_h5",
]
