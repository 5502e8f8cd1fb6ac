"""The reader API for downstream code: obsloctap, the pre-night briefing, progress reports.

Readers follow section 3 of the archive interface. Everything goes through
:class:`ArchiveReader` (:mod:`.reader`), which asks the metadata database first and falls back on
the pre-night index snapshots in the store when the database is out of reach (:mod:`.fallback`);
the results have the same form either way (:mod:`.index_form`). Visits files are read through
the one verified read path (:func:`vseq_resources.stored_visits.read_stored_visits`).

- :mod:`.reader`: :class:`ArchiveReader` (pre-night index, latest simulation, visits of nights,
  obsloctap's visits, night statistics, UUID lookups, the newest completed sequence of a night);
- :mod:`.selection`: choosing the latest simulation, statistics from visits;
- :mod:`.obsloctap`: obsloctap's window of nights;
- :mod:`.partitions`: :func:`load_partition` and the one mapping from asset to loader;
- :mod:`.production`: the reference's function names (``get_prenight_index``,
  ``find_latest_prenight_sim_for_nights``, ``fetch_sim_for_nights``, ``fetch_obsloctap_visits``,
  ``fetch_sim_stats_for_night``, ``get_sim_uuid``, ``get_sim_index_info``) on a reader from the
  environment, so code written against ``rubin_sim.sim_archive`` ports by changing the import.
"""

from .fallback import RETRY_AFTER
from .index_form import normalize_prenight_index
from .obsloctap import OBSLOCTAP_COLUMNS, NightWindow, night_bounds, obsloctap_window
from .partitions import (
    PARTITION_LOADERS,
    load_partition,
    night_plan,
    partition_index,
    partition_nominal,
    partition_run,
    partition_simulations,
    run_variants,
)
from .production import (
    fetch_obsloctap_visits,
    fetch_sim_for_nights,
    fetch_sim_stats_for_night,
    find_latest_prenight_sim_for_nights,
    get_prenight_index,
    get_sim_index_info,
    get_sim_uuid,
)
from .reader import DEFAULT_CONNECT_TIMEOUT, ArchiveReader
from .selection import (
    DEFAULT_MAX_AGE,
    LATEST_TAGS,
    PRENIGHT_TAGS,
    NoMatchingSimulationsError,
    select_latest,
    stats_from_visits,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_AGE",
    "LATEST_TAGS",
    "OBSLOCTAP_COLUMNS",
    "PARTITION_LOADERS",
    "PRENIGHT_TAGS",
    "RETRY_AFTER",
    "ArchiveReader",
    "NightWindow",
    "NoMatchingSimulationsError",
    "fetch_obsloctap_visits",
    "fetch_sim_for_nights",
    "fetch_sim_stats_for_night",
    "find_latest_prenight_sim_for_nights",
    "get_prenight_index",
    "get_sim_index_info",
    "get_sim_uuid",
    "load_partition",
    "partition_index",
    "partition_run",
    "night_bounds",
    "night_plan",
    "normalize_prenight_index",
    "obsloctap_window",
    "partition_nominal",
    "partition_simulations",
    "run_variants",
    "select_latest",
    "stats_from_visits",
]
