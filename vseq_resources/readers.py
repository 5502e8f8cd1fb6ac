"""The reader API for downstream code: obsloctap, the pre-night briefing, progress reports.

Readers follow section 3 of the archive interface. Everything goes through
:class:`ArchiveReader`, which asks the metadata database first and falls back on the pre-night
index snapshots in the store (:mod:`.prenight_index`) when the database cannot be reached within
a short connect timeout (3 s by default): most observatory services can read the store but not the
database. Whichever path answered, the results have the same columns and the same types
(:func:`normalize_prenight_index`); ``reader.last_source`` says which one it was.

- :meth:`ArchiveReader.prenight_index`: every simulation tagged ``prenight`` covering a night,
  with its statistics of that night (empty when neither the database nor a snapshot has any).
- :meth:`ArchiveReader.latest_simulation`: the newest simulation covering a range of nights with
  the wanted tags (default ``ideal``, ``nominal``), younger than a max age (default 2 days).
- :meth:`ArchiveReader.visits_for_nights`: the visits of that simulation on those nights.
- :meth:`ArchiveReader.obsloctap_visits`: obsloctap's query (window from the first sunset after a
  reference time, for ``nights`` nights; its column list; "no matching simulations" error).
- :meth:`ArchiveReader.night_stats`: statistics of a night of the latest simulation, with
  ``nominal_visits``; computed from the visits when none were stored.
- :meth:`ArchiveReader.sim_uuid` / :meth:`ArchiveReader.sim_metadata`: ``(sim_creation_day_obs,
  daily_id)`` -> UUID, and UUID -> its ``simulations_extra`` row.
- :func:`load_partition`: the value of an archived Dagster asset partition, in one call
  (``load_partition("simonyi/prenight_index", "2026-04-11")``).

The module-level functions with the reference names (``get_prenight_index``,
``find_latest_prenight_sim_for_nights``, ``fetch_sim_for_nights``, ``fetch_obsloctap_visits``,
``fetch_sim_stats_for_night``, ``get_sim_uuid``, ``get_sim_index_info``) call a reader configured
from the environment, so code written against ``rubin_sim.sim_archive`` ports by changing the import.

Readers never start a database server: with no database configured they use the embedded server
only when it is already running, and the snapshots otherwise.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import time
import uuid as uuidlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import TELESCOPES, ArchiveSettings
from .dayobs import dayobs_end, dayobs_of_mjd, mjd_of, parse_dayobs
from .errors import ConfigurationError, NotFoundError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .archive import VisitSequenceArchive
    from .metadata.database import MetadataDatabase

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 3.0
"""Seconds to wait for the metadata database before falling back on the snapshots."""
RETRY_AFTER = 60.0
"""Seconds during which a reader that found the database unreachable does not try it again."""
PRENIGHT_TAGS = ("prenight",)
LATEST_TAGS = ("ideal", "nominal")
DEFAULT_MAX_AGE = 2
OBSLOCTAP_COLUMNS = (
    "observationStartMJD",
    "fieldRA",
    "fieldDec",
    "rotSkyPos",
    "band",
    "visitExposureTime",
    "night",
    "target_name",
)
DATE_COLUMNS = ("sim_creation_day_obs", "first_day_obs", "last_day_obs", "parent_last_day_obs")
TEXT_COLUMNS = ("visitseq_label", "visitseq_url", "telescope", "scheduler_version", "config_url")
HEX_COLUMNS = ("conda_env_sha256",)
INDEX_NAME = "visitseq_uuid"


def _index_columns() -> tuple[str, ...]:
    from .metadata.schema import SIMULATIONS_EXTRA_COLUMNS

    return (*(c for c in SIMULATIONS_EXTRA_COLUMNS if c != INDEX_NAME), "stats")


class NoMatchingSimulationsError(NotFoundError, ValueError):
    """No simulation matches a query (also a ValueError, as the reference raised)."""


# -- one form for both paths ---------------------------------------------------------------------


def normalize_prenight_index(frame: pd.DataFrame) -> pd.DataFrame:
    """A pre-night index (database result or snapshot) in the one form readers return.

    Indexed by ``visitseq_uuid`` (str); columns of ``simulations_extra`` then ``stats``, in that
    order (any other column of a snapshot after them); dates as ``datetime.date`` (or None),
    ``creation_time`` as ``datetime64[ns, UTC]``, ``daily_id`` int64, hashes as hex strings,
    ``parent_visitseq_uuid`` as str, text as Python str, ``tags`` lists, ``comments``/``files``
    dicts, ``sim_runner_kwargs``/``stats`` dicts or None. Object columns hold None for missing
    values, never NaN.
    """
    import pandas as pd

    frame = frame.copy()
    if INDEX_NAME in frame.columns:
        frame = frame.set_index(INDEX_NAME)
    frame.index = pd.Index([str(u) for u in frame.index], dtype=object, name=INDEX_NAME)
    columns = _index_columns()
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    extra = [c for c in frame.columns if c not in columns]
    frame = frame.loc[:, [*columns, *extra]]
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = list(frame[column])
        if column in DATE_COLUMNS:
            converted: list[Any] = [None if _missing(v) else _as_date(v) for v in values]
        elif column in HEX_COLUMNS:
            converted = [
                None if _missing(v) else (bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v))
                for v in values
            ]
        elif column == "parent_visitseq_uuid":
            converted = [None if _missing(v) else str(v) for v in values]
        elif column == "tags":
            converted = [[] if _missing(v) else sorted(str(t) for t in v) for v in values]
        elif column in ("comments", "files"):
            converted = [{} if _missing(v) else dict(v) for v in values]
        elif column in ("stats", "sim_runner_kwargs"):
            converted = [None if _missing(v) or v == {} and column == "stats" else v for v in values]
        elif column == "creation_time":
            out[column] = pd.to_datetime(
                pd.Series(values, index=frame.index, dtype=object), utc=True, format="ISO8601"
            ).astype("datetime64[ns, UTC]")
            continue
        elif column == "daily_id":
            out[column] = pd.Series([int(v) for v in values], index=frame.index, dtype="int64")
            continue
        else:
            converted = [None if _missing(v) else v for v in values]
        out[column] = pd.Series(converted, index=frame.index, dtype=object)
    return out


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    return dt.date.fromisoformat(str(value)[:10])


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    import pandas as pd

    return value is pd.NaT or value is pd.NA


# -- the reader ----------------------------------------------------------------------------------


@dataclass
class ArchiveReader:
    """Reads the archive for downstream code: the database first, the snapshots when it is out of reach.

    ``database_url`` None means no database (snapshots only); ``index_uri`` is the base of the
    pre-night index snapshots. Build one with :meth:`from_env`, :meth:`from_settings` or
    :meth:`for_archive`.
    """

    database_url: str | None
    schema: str
    index_uri: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    last_source: str | None = None
    """Which path answered the last query: ``"database"`` or ``"snapshot"``."""
    _metadata: Any = field(default=None, repr=False)
    _unreachable_since: float | None = field(default=None, repr=False)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls, settings: ArchiveSettings, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    ) -> ArchiveReader:
        url = settings.database_url
        if url is None:
            url = _running_embedded_url(settings)
        return cls(url, settings.schema, settings.index_uri, connect_timeout)

    @classmethod
    def from_env(cls, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> ArchiveReader:
        """A reader of the archive the environment describes (as the CLI reads it)."""
        return cls.from_settings(ArchiveSettings.from_env(), connect_timeout)

    @classmethod
    def for_archive(cls, archive: VisitSequenceArchive) -> ArchiveReader:
        """A reader sharing an open archive's database connection and its index location."""
        settings = archive.settings or ArchiveSettings.from_env()
        reader = cls(None, archive.metadata.schema, settings.index_uri)
        reader._metadata = archive.metadata
        return reader

    def close(self) -> None:
        if self._metadata is not None and self.database_url is not None:
            self._metadata.close()
        self._metadata = None

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the database, when it answers ----------------------------------------------------------

    def database(self) -> MetadataDatabase | None:
        """The metadata database, or None when none is configured or it cannot be reached."""
        if self._metadata is not None:
            return self._metadata
        if self.database_url is None:
            return None
        if self._unreachable_since is not None and time.monotonic() - self._unreachable_since < RETRY_AFTER:
            return None
        from .metadata.database import MetadataDatabase

        try:
            self._metadata = MetadataDatabase.from_url(
                self.database_url, self.schema, connect_timeout=max(1, math.ceil(self.connect_timeout))
            )
        except ConfigurationError as err:
            self._unreachable(err)
            return None
        return self._metadata

    def _unreachable(self, err: BaseException) -> None:
        log.warning("metadata database not usable (%s): reading the pre-night index snapshots", err)
        self._unreachable_since = time.monotonic()
        if self._metadata is not None and self.database_url is not None:
            self._metadata.close()
            self._metadata = None

    def _from_database(self, query: Any) -> tuple[bool, Any]:
        """``(True, query(db))`` when the database answered, ``(False, None)`` when out of reach."""
        import sqlalchemy as sa

        db = self.database()
        if db is None:
            return False, None
        try:
            result = query(db)
        except ConfigurationError as err:  # raised by a connection attempt that failed
            self._unreachable(err)
            return False, None
        except sa.exc.OperationalError as err:  # the server went away during the query
            self._unreachable(err)
            return False, None
        self.last_source = "database"
        return True, result

    # -- pre-night index ---------------------------------------------------------------------

    def prenight_index(self, day_obs: str | int | dt.date, telescope: str = "simonyi") -> pd.DataFrame:
        """Every simulation tagged ``prenight`` covering the night, with its stats of that night.

        The database's answer, or the snapshot's when the database is out of reach; empty (with
        the columns) when neither has any. See :func:`normalize_prenight_index` for the form.
        """
        from .archive import check_telescope
        from .prenight_index import MAX_SIMULATION_AGE_DAYS, read_prenight_index

        night = parse_dayobs(day_obs)
        telescope = check_telescope(telescope)
        answered, frame = self._from_database(
            lambda db: db.prenight_simulations(
                night,
                telescope,
                tags=PRENIGHT_TAGS,
                max_simulation_age=MAX_SIMULATION_AGE_DAYS,
                with_stats=True,
            )
        )
        if not answered:
            frame = read_prenight_index(self.index_uri, night, telescope)
            self.last_source = "snapshot"
        return normalize_prenight_index(frame)

    # -- selection ------------------------------------------------------------------------------

    def latest_simulation(
        self,
        first_day_obs: str | int | dt.date | None = None,
        last_day_obs: str | int | dt.date | None = None,
        telescope: str = "simonyi",
        tags: Iterable[str] = LATEST_TAGS,
        max_simulation_age: float | None = DEFAULT_MAX_AGE,
        now: dt.datetime | None = None,
    ) -> dict[str, Any] | None:
        """The newest pre-night simulation covering every night from ``first_day_obs`` to
        ``last_day_obs`` (default: tonight only), carrying all ``tags`` and created less than
        ``max_simulation_age`` days before ``now`` (None: any age). A dict of its index row with
        ``visitseq_uuid``; None when nothing matches.
        """
        first = parse_dayobs(first_day_obs) if first_day_obs is not None else _tonight(now)
        last = parse_dayobs(last_day_obs) if last_day_obs is not None else first
        candidates = self.prenight_index(first, telescope)
        if last != first and len(candidates):
            at_end = self.prenight_index(last, telescope)
            candidates = candidates.loc[candidates.index.isin(at_end.index)]
        return select_latest(candidates, tags, max_simulation_age, now)

    def visits(
        self,
        simulation: dict[str, Any] | str | uuidlib.UUID,
        nights: Iterable[str | int | dt.date] | None = None,
    ) -> pd.DataFrame:
        """The visits of a simulation (its index row, or its UUID), optionally only some nights."""
        from .visits import read_visits_h5

        sim = simulation if isinstance(simulation, dict) else self.sim_metadata(simulation)
        url = sim.get("visitseq_url")
        if not url:
            raise NotFoundError(f"simulation {sim.get('visitseq_uuid')} has no stored visits")
        return read_visits_h5(url, nights=None if nights is None else list(nights)).reset_index(drop=True)

    def visits_for_nights(
        self,
        first_day_obs: str | int | dt.date | None = None,
        last_day_obs: str | int | dt.date | None = None,
        telescope: str = "simonyi",
        tags: Iterable[str] = LATEST_TAGS,
        max_simulation_age: float | None = DEFAULT_MAX_AGE,
        now: dt.datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Visits of the best (latest matching) simulation on the nights ``first``..``last``.

        Raises :class:`NoMatchingSimulationsError` when no simulation matches. The frame's
        ``attrs["visitseq_uuid"]`` names the simulation the visits come from.
        """
        first = parse_dayobs(first_day_obs) if first_day_obs is not None else _tonight(now)
        last = parse_dayobs(last_day_obs) if last_day_obs is not None else first
        sim = self.latest_simulation(first, last, telescope, tags, max_simulation_age, now)
        if sim is None:
            raise NoMatchingSimulationsError(
                f"no matching simulations: no {telescope} pre-night simulation tagged "
                f"{', '.join(tags) or '(any)'} covers {first}..{last}"
                + (
                    f" created in the {max_simulation_age} days before {now or 'now'}"
                    if max_simulation_age is not None
                    else ""
                )
            )
        nights = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        visits = self.visits(sim, nights)
        if columns is not None:
            visits = visits.loc[:, list(columns)]
        visits.attrs["visitseq_uuid"] = sim["visitseq_uuid"]
        return visits

    def obsloctap_visits(
        self,
        day_obs: str | int | dt.date | None = None,
        nights: int = 2,
        telescope: str = "simonyi",
        columns: Sequence[str] = OBSLOCTAP_COLUMNS,
        now: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """The visits obsloctap publishes: the latest ideal/nominal pre-night simulation over the
        ``nights`` nights starting at the first sunset after the reference time (``now``, or
        00:00 UTC of ``day_obs``), with ``columns``.

        A reference time during a night starts with the following night. The simulation may be
        up to ``ceil(now - reference) + 1`` days old, as in obsloctap. Sunsets come from the
        almanac of the site data (rubin_sim_data when present, else computed with astropy).
        ``attrs`` carries the window (``first_day_obs``, ``last_day_obs``, ``start_mjd``,
        ``end_mjd``) and the simulation's UUID. Raises :class:`NoMatchingSimulationsError`.
        """
        if nights < 1:
            raise ValueError(f"nights must be at least 1, not {nights}")
        now = now or dt.datetime.now(dt.UTC)
        if day_obs is None:
            reference = now
        else:
            d = parse_dayobs(day_obs)
            reference = dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
        window = obsloctap_window(reference, nights)
        max_age = math.ceil(mjd_of(now) - mjd_of(reference)) + 1
        visits = self.visits_for_nights(
            window.first_day_obs, window.last_day_obs, telescope, LATEST_TAGS, max_age, now, columns
        )
        visits.attrs.update(
            first_day_obs=window.first_day_obs,
            last_day_obs=window.last_day_obs,
            start_mjd=window.start_mjd,
            end_mjd=window.end_mjd,
        )
        return visits

    def night_stats(
        self,
        day_obs: str | int | dt.date | None = None,
        telescope: str = "simonyi",
        tags: Iterable[str] = LATEST_TAGS,
        max_simulation_age: float | None = DEFAULT_MAX_AGE,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Statistics of the night in the latest matching simulation: value name -> {count, mean,
        std, min, p05, q1, median, q3, p95, max, accumulated}, plus ``nominal_visits`` (the visit
        count that night). Computed from the visits when the archive holds no statistics of that
        night; empty when no simulation matches."""
        night = parse_dayobs(day_obs) if day_obs is not None else _tonight(now)
        sim = self.latest_simulation(night, night, telescope, tags, max_simulation_age, now)
        if sim is None:
            return {}
        stats = dict(sim.get("stats") or {})
        visits = None
        if not stats:
            visits = self.visits(sim, [night])
            stats = stats_from_visits(visits, night)
        counts = [v["count"] for v in stats.values() if isinstance(v, dict) and v.get("count") is not None]
        if counts:
            stats["nominal_visits"] = int(max(counts))
        else:
            visits = visits if visits is not None else self.visits(sim, [night])
            stats["nominal_visits"] = len(visits)
        return stats

    # -- lookups ------------------------------------------------------------------------------

    def sim_uuid(
        self,
        sim_creation_day_obs: str | int | dt.date,
        daily_id: int | str,
        day_obs: str | int | dt.date | None = None,
    ) -> uuidlib.UUID:
        """The UUID of simulation "``sim_creation_day_obs`` #``daily_id``".

        From the database; when it is out of reach, from the snapshots of ``day_obs`` (default:
        the creation night, which a pre-night simulation covers) of every telescope.
        """
        creation = parse_dayobs(sim_creation_day_obs)
        number = int(daily_id)
        answered, found = self._from_database(lambda db: db.uuid_for_daily_id(creation, number))
        if answered:
            return found
        night = parse_dayobs(day_obs) if day_obs is not None else creation
        for telescope in TELESCOPES:
            index = self.prenight_index(night, telescope)
            hits = index.index[(index["sim_creation_day_obs"] == creation) & (index["daily_id"] == number)]
            if len(hits):
                return uuidlib.UUID(hits[0])
        raise NotFoundError(f"no simulation {creation.isoformat()} #{number} (in the snapshots of {night})")

    def sim_metadata(
        self, visitseq_uuid: str | uuidlib.UUID, day_obs: str | int | dt.date | None = None
    ) -> dict[str, Any]:
        """The ``simulations_extra`` row of a simulation (with ``stats`` of ``day_obs`` when
        given, else None), in the form of :func:`normalize_prenight_index`, as a dict.

        From the database; when it is out of reach, from the snapshots of ``day_obs`` (needed
        then: snapshots are per night).
        """
        import pandas as pd

        key = uuidlib.UUID(str(visitseq_uuid))
        night = parse_dayobs(day_obs) if day_obs is not None else None

        def query(db: MetadataDatabase) -> pd.DataFrame:
            # Its own row and its stats of that night: not the night's whole pre-night query.
            return pd.DataFrame([db.simulation_metadata(key, stats_day_obs=night)])

        answered, frame = self._from_database(query)
        if not answered:
            if night is None:
                raise NotFoundError(
                    f"the metadata database is out of reach, and without a night no snapshot can be "
                    f"searched for simulation {key}"
                )
            for telescope in TELESCOPES:
                index = self.prenight_index(night, telescope)
                if str(key) in index.index:
                    return _row_dict(index.loc[[str(key)]])
            raise NotFoundError(f"no simulation {key} in the snapshots of {night}")
        return _row_dict(normalize_prenight_index(frame))


def _row_dict(frame: pd.DataFrame) -> dict[str, Any]:
    row = frame.reset_index().iloc[0].to_dict()
    return {k: (None if k in DATE_COLUMNS and _missing(v) else v) for k, v in row.items()}


def select_latest(
    candidates: pd.DataFrame,
    tags: Iterable[str] = LATEST_TAGS,
    max_simulation_age: float | None = DEFAULT_MAX_AGE,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """The newest row of a pre-night index carrying every tag in ``tags``, created less than
    ``max_simulation_age`` days before ``now`` (None: any age), as a dict; None if none."""
    import pandas as pd

    if candidates.empty:
        return None
    wanted = set(tags)
    keep = candidates["tags"].map(lambda t: wanted.issubset(t)).astype(bool)
    if max_simulation_age is not None:
        reference = pd.Timestamp(now or dt.datetime.now(dt.UTC))
        keep &= candidates["creation_time"] >= reference - pd.Timedelta(days=max_simulation_age)
    chosen = candidates.loc[keep]
    if chosen.empty:
        return None
    chosen = chosen.sort_values(["creation_time", "daily_id"], kind="stable")
    return _row_dict(chosen.iloc[[-1]])


def stats_from_visits(visits: pd.DataFrame, day_obs: str | int | dt.date) -> dict[str, Any]:
    """Statistics of every numeric visit column on one night, in the index's ``stats`` form."""
    import pandas as pd

    from .visits import compute_nightly_stats

    numeric = [
        c
        for c in visits.columns
        if pd.api.types.is_numeric_dtype(visits[c]) and not pd.api.types.is_bool_dtype(visits[c])
    ]
    if visits.empty or not numeric:
        return {}
    frame = compute_nightly_stats(visits, columns=numeric, day_obs=day_obs)
    frame = frame.loc[~frame["accumulated"]]
    out: dict[str, Any] = {}
    for record in frame.to_dict(orient="records"):
        name = record.pop("value_name")
        record.pop("day_obs")
        out[name] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    return out


def _tonight(now: dt.datetime | None) -> dt.date:
    from .dayobs import today_dayobs

    return today_dayobs(now)


def _running_embedded_url(settings: ArchiveSettings) -> str | None:
    """The embedded server's URL when it runs under the state directory; readers never start it."""
    from .embedded import _server_alive, _url

    pgdata = settings.state_dir / "pgdata"
    if _server_alive(pgdata) and (pgdata / ".s.PGSQL.5432").exists():
        return _url(pgdata)
    return None


# -- obsloctap's window ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NightWindow:
    """The nights obsloctap shows: from a sunset to a sunrise, and the dayobs they span."""

    start_mjd: float
    end_mjd: float
    first_day_obs: dt.date
    last_day_obs: dt.date


def obsloctap_window(reference: dt.datetime, nights: int = 2) -> NightWindow:
    """From the first sunset after ``reference`` to the sunrise ending the ``nights``-th night."""
    ref_mjd = mjd_of(reference)
    table = night_bounds(math.floor(ref_mjd) - 1, math.floor(ref_mjd) + nights + 2)
    after = table[table["sunset"] > ref_mjd]
    if len(after) < nights:
        raise ValueError(f"the almanac does not cover {nights} nights after {reference.isoformat()}")
    first_night = int(after["night"].min())
    by_night = {int(n): row for n, row in zip(table["night"], table, strict=True)}
    last_night = first_night + nights - 1
    if last_night not in by_night:
        raise ValueError(f"the almanac has no night {last_night}")
    start = float(by_night[first_night]["sunset"])
    end = float(by_night[last_night]["sunrise"])
    return NightWindow(start, end, dayobs_of_mjd(start), dayobs_of_mjd(end))


def night_bounds(first_mjd: int, last_mjd: int) -> np.ndarray:
    """Almanac rows (``night``, ``sunset``, ..., ``sunrise``) of the nights whose sunset falls in
    [first_mjd, last_mjd]: rubin_sim_data's almanac when ``RUBIN_SIM_DATA_DIR`` holds the real
    data, else computed with astropy (vseq's site-data almanac), cached per process."""
    return _night_bounds(int(first_mjd), int(last_mjd))


@functools.lru_cache(maxsize=32)
def _night_bounds(first_mjd: int, last_mjd: int) -> np.ndarray:
    from .simulation.site_data import real_site_data_dir

    if real_site_data_dir() is not None:
        from rubin_scheduler.site_models import Almanac

        sunsets = Almanac().sunsets
        return sunsets[(sunsets["sunset"] >= first_mjd) & (sunsets["sunset"] <= last_mjd)]
    from .simulation.almanac import Span, site_location, sun_moon_positions, sunsets_table
    from .simulation.offline import configure_offline_astropy

    configure_offline_astropy()
    location = site_location()
    positions = sun_moon_positions([Span(first_mjd, last_mjd + 2.0)], location)
    return sunsets_table([Span(first_mjd, last_mjd)], positions, location)


# -- archived asset partitions -------------------------------------------------------------------


def load_partition(
    asset: str | Sequence[str] | Any,
    partition_key: str | int | dt.date,
    *,
    reader: ArchiveReader | None = None,
) -> Any:
    """The value of an archived partition of a vseq Dagster asset, read from the archive.

    ``asset`` is a key as ``"simonyi/prenight_index"``, ``["simonyi", "prenight_index"]`` or a
    Dagster ``AssetKey``; ``partition_key`` a dayobs. Values:

    - ``consdb_visits``, ``completed_visits``: the night's visits (newest completed sequence);
    - ``completed_metadata``: that sequence's metadata row (dict);
    - ``prenight_index``: the pre-night index of the night (:meth:`ArchiveReader.prenight_index`);
    - ``prenight_metadata``: the index rows of the simulations created for that night;
    - ``prenight_sims``: the night's visits of the latest ideal/nominal simulation created for it;
    - ``prenight_briefing``: figure name -> URL of the briefing images of that night.

    Works outside Dagster (no instance needed): the archive is the store of record. ``reader``
    defaults to :meth:`ArchiveReader.from_env`.
    """
    telescope, name = _split_key(asset)
    night = parse_dayobs(partition_key)
    own = reader is None
    reader = reader or ArchiveReader.from_env()
    try:
        if name in ("consdb_visits", "completed_visits", "completed_metadata"):
            return _completed(reader, telescope, night, metadata=name == "completed_metadata")
        if name == "prenight_index":
            return reader.prenight_index(night, telescope)
        index = reader.prenight_index(night, telescope)
        created = index.loc[index["sim_creation_day_obs"] == night] if len(index) else index
        if name == "prenight_metadata":
            return created
        if name == "prenight_sims":
            sim = select_latest(created, LATEST_TAGS, None)
            if sim is None:
                raise NoMatchingSimulationsError(
                    f"no matching simulations: no ideal/nominal {telescope} simulation created for {night}"
                )
            return reader.visits(sim, [night])
        if name == "prenight_briefing":
            sim = select_latest(index, LATEST_TAGS, None, now=dayobs_end(night))
            files = (sim or {}).get("files") or {}
            return {k: v for k, v in files.items() if k.startswith("briefing_")}
    finally:
        if own:
            reader.close()
    raise NotFoundError(f"no archived value for asset {telescope}/{name}")


def _split_key(asset: Any) -> tuple[str, str]:
    if hasattr(asset, "path"):
        parts = list(asset.path)
    elif isinstance(asset, str):
        parts = asset.split("/")
    else:
        parts = list(asset)
    if len(parts) != 2 or parts[0] not in TELESCOPES:
        raise NotFoundError(f"not a vseq asset key: {asset!r} (expected <telescope>/<name>)")
    return parts[0], parts[1]


def _completed(reader: ArchiveReader, telescope: str, night: dt.date, metadata: bool) -> Any:
    from .visits import read_visits_h5

    db = reader.database()
    if db is None:
        raise ConfigurationError(
            "completed sequences are found through the metadata database, which is out of reach"
        )
    found = db.search(telescope=telescope, day_obs=night, table="completed")
    found = found.loc[(found["first_day_obs"] == night) & (found["last_day_obs"] == night)]
    if found.empty:
        raise NotFoundError(f"no completed {telescope} sequence of {night}")
    newest = found.iloc[-1]
    if metadata:
        return db.get_metadata(newest["visitseq_uuid"])
    if not newest["visitseq_url"]:
        raise NotFoundError(f"completed sequence {newest['visitseq_uuid']} has no stored visits")
    return read_visits_h5(newest["visitseq_url"])


# -- the reference's function names ----------------------------------------------------------------


def get_prenight_index(day_obs: str | int | dt.date, telescope: str = "simonyi") -> pd.DataFrame:
    with ArchiveReader.from_env() as reader:
        return reader.prenight_index(day_obs, telescope)


def find_latest_prenight_sim_for_nights(
    first_day_obs: str | int | dt.date | None = None,
    last_day_obs: str | int | dt.date | None = None,
    tags: tuple[str, ...] = LATEST_TAGS,
    telescope: str = "simonyi",
    max_simulation_age: float = DEFAULT_MAX_AGE,
) -> dict[str, Any]:
    with ArchiveReader.from_env() as reader:
        return (
            reader.latest_simulation(first_day_obs, last_day_obs, telescope, tags, max_simulation_age) or {}
        )


def fetch_sim_for_nights(
    first_day_obs: str | int | dt.date | None = None,
    last_day_obs: str | int | dt.date | None = None,
    tags: tuple[str, ...] = LATEST_TAGS,
    telescope: str = "simonyi",
    max_simulation_age: float = DEFAULT_MAX_AGE,
) -> pd.DataFrame:
    with ArchiveReader.from_env() as reader:
        return reader.visits_for_nights(first_day_obs, last_day_obs, telescope, tags, max_simulation_age)


def fetch_obsloctap_visits(
    day_obs: str | None = None,
    nights: int = 2,
    telescope: str = "simonyi",
    columns: Sequence[str] = OBSLOCTAP_COLUMNS,
) -> pd.DataFrame:
    with ArchiveReader.from_env() as reader:
        return reader.obsloctap_visits(day_obs, nights, telescope, columns)


def fetch_sim_stats_for_night(
    day_obs: str | int | None = None,
    tags: tuple[str, ...] = LATEST_TAGS,
    telescope: str = "simonyi",
    max_simulation_age: int = DEFAULT_MAX_AGE,
) -> dict[str, Any]:
    with ArchiveReader.from_env() as reader:
        return reader.night_stats(day_obs, telescope, tags, max_simulation_age)


def get_sim_uuid(
    day_obs: str | int | dt.date, sim_date: str | int | dt.date, daily_id: int | str
) -> uuidlib.UUID:
    with ArchiveReader.from_env() as reader:
        return reader.sim_uuid(sim_date, daily_id, day_obs=day_obs)


def get_sim_index_info(day_obs: str | int | dt.date, visitseq_uuid: str | uuidlib.UUID) -> dict[str, Any]:
    with ArchiveReader.from_env() as reader:
        return reader.sim_metadata(visitseq_uuid, day_obs)
