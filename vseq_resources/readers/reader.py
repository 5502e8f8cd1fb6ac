"""``ArchiveReader``: the pre-night index, simulation selection, visits, statistics, lookups.

The reader asks the metadata database first and answers from the pre-night index snapshots in
the store (:mod:`vseq_resources.prenight_index`) when the database is out of reach
(:mod:`.fallback` says exactly when); whichever path answered, the results have the same columns
and types (:func:`.index_form.normalize_prenight_index`) and ``reader.last_source`` says which one
it was. Every visits file is read through the one verified read path
(:func:`vseq_resources.stored_visits.read_stored_visits`). Readers never start a database server:
with no database configured they use the embedded server only when it is already running.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid as uuidlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import TELESCOPES, ArchiveSettings
from ..dayobs import mjd_of, parse_dayobs
from ..errors import NotFoundError
from .fallback import ReaderDatabase
from .index_form import normalize_prenight_index, row_dict
from .obsloctap import OBSLOCTAP_COLUMNS, obsloctap_window
from .selection import (
    DEFAULT_MAX_AGE,
    LATEST_TAGS,
    PRENIGHT_TAGS,
    NoMatchingSimulationsError,
    select_latest,
    stats_from_visits,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..archive import VisitSequenceArchive
    from ..metadata.database import MetadataDatabase

DEFAULT_CONNECT_TIMEOUT = 3.0
"""Seconds to wait for the metadata database before falling back on the snapshots."""


@dataclass
class ArchiveReader:
    """Reads the archive for downstream code: the database first, the snapshots when it is out of reach.

    ``database_url`` None means no database (snapshots only); ``index_uri`` is the base of the
    pre-night index snapshots. ``require_checksum`` refuses visits files with no recorded
    SHA-256 (else they are read with an ``UnverifiedFileWarning``); visits found through a
    snapshot while the database is out of reach have no known checksum either. Build one with
    :meth:`from_env`, :meth:`from_settings` or :meth:`for_archive`.
    """

    database_url: str | None
    schema: str
    index_uri: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    require_checksum: bool = False
    last_source: str | None = None
    """Which path answered the last query: ``"database"`` or ``"snapshot"``."""
    _db: ReaderDatabase = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._db = ReaderDatabase(self.database_url, self.schema, self.connect_timeout)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        settings: ArchiveSettings,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        *,
        require_checksum: bool = False,
    ) -> ArchiveReader:
        url = settings.database_url
        if url is None:
            url = _running_embedded_url(settings)
        return cls(url, settings.schema, settings.index_uri, connect_timeout, require_checksum)

    @classmethod
    def from_env(
        cls, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, *, require_checksum: bool = False
    ) -> ArchiveReader:
        """A reader of the archive the environment describes (as the CLI reads it)."""
        return cls.from_settings(
            ArchiveSettings.from_env(), connect_timeout, require_checksum=require_checksum
        )

    @classmethod
    def for_archive(cls, archive: VisitSequenceArchive, *, require_checksum: bool = False) -> ArchiveReader:
        """A reader sharing an open archive's database connection and its index location."""
        settings = archive.settings or ArchiveSettings.from_env()
        reader = cls(None, archive.metadata.schema, settings.index_uri, require_checksum=require_checksum)
        reader._db = ReaderDatabase(None, archive.metadata.schema, 0, metadata=archive.metadata, owned=False)
        return reader

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def database(self) -> MetadataDatabase | None:
        """The metadata database, or None when none is configured or it is out of reach.

        A database that answers but refuses the reader (credentials, schema) raises
        `ConfigurationError`: see :mod:`.fallback`.
        """
        return self._db.get()

    def _from_database(self, query: Any) -> tuple[bool, Any]:
        answered, result = self._db.ask(query)
        if answered:
            self.last_source = "database"
        return answered, result

    # -- pre-night index ---------------------------------------------------------------------

    def prenight_index(self, day_obs: str | int | dt.date, telescope: str = "simonyi") -> pd.DataFrame:
        """Every simulation tagged ``prenight`` covering the night, with its stats of that night.

        The database's answer, or the snapshot's when the database is out of reach; empty (with
        the columns) when neither has any. See :func:`normalize_prenight_index` for the form.
        """
        from ..archive import check_telescope
        from ..prenight_index import MAX_SIMULATION_AGE_DAYS, read_prenight_index

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

    def resimulations(self, day_obs: str | int | dt.date, telescope: str = "simonyi") -> pd.DataFrame:
        """Every re-simulation of the past (tagged ``resimulation``, see
        :mod:`vseq_resources.prenight_runs`) covering the night, with its stats of that night, in
        the form of :meth:`prenight_index`.

        Found through the database only: the snapshots list what production's readers may take
        as predictions, the pre-night simulations. Empty when the database is out of reach
        (``last_source`` is then ``"snapshot"``).
        """
        import pandas as pd

        from ..archive import check_telescope
        from ..prenight_runs import RESIMULATION_TAG

        night = parse_dayobs(day_obs)
        telescope = check_telescope(telescope)
        answered, frame = self._from_database(
            lambda db: db.prenight_simulations(
                night, telescope, tags=(RESIMULATION_TAG,), max_simulation_age=None, with_stats=True
            )
        )
        if not answered:
            self.last_source = "snapshot"
            frame = pd.DataFrame()
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
        """The visits of a simulation (its index row, or its UUID), optionally only some nights.

        Read through the one verified read path: the file's recorded SHA-256 (from the
        database) is checked before it is parsed (`IntegrityError` naming the sequence).
        """
        from ..stored_visits import read_stored_visits

        sim = simulation if isinstance(simulation, dict) else self.sim_metadata(simulation)
        url = sim.get("visitseq_url")
        if not url:
            raise NotFoundError(f"simulation {sim.get('visitseq_uuid')} has no stored visits")
        answered, recorded = self._from_database(lambda db: db.get_checksum(url))
        visits = read_stored_visits(
            url,
            recorded,
            sequence=str(sim.get("visitseq_uuid")),
            why_unverified=None if answered else "the metadata database holding its checksum is out of reach",
            nights=None if nights is None else list(nights),
            require_checksum=self.require_checksum,
        )
        return visits.reset_index(drop=True)

    def newest_completed(self, telescope: str, night: str | int | dt.date) -> dict[str, Any]:
        """The newest completed sequence with stored visits covering ``night`` (the metadata
        layer's one answer), with ``visits_sha256``; found through the database only (the
        snapshots list simulations): `DatabaseUnavailableError` when it is out of reach,
        `NotFoundError` when there is none."""
        from ..archive import check_telescope
        from ..errors import DatabaseUnavailableError

        day = parse_dayobs(night)
        telescope = check_telescope(telescope)
        answered, row = self._from_database(lambda db: db.newest_completed(telescope, day))
        if not answered:
            raise DatabaseUnavailableError(
                "completed sequences are found through the metadata database, which is out of reach"
            )
        if row is None:
            raise NotFoundError(f"no completed {telescope} sequence with stored visits covers {day}")
        return row

    def completed_visits(self, telescope: str, night: str | int | dt.date) -> pd.DataFrame:
        """The visits of ``night`` in its newest completed sequence (:meth:`newest_completed`),
        through the verified read path; a multi-night sequence gives only that night's visits."""
        from ..stored_visits import read_stored_visits

        day = parse_dayobs(night)
        row = self.newest_completed(telescope, day)
        whole = row["first_day_obs"] == row["last_day_obs"] == day
        return read_stored_visits(
            row["visitseq_url"],
            row["visits_sha256"],
            sequence=row["visitseq_uuid"],
            nights=None if whole else [day],
            require_checksum=self.require_checksum,
        )

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
                    return row_dict(index.loc[[str(key)]])
            raise NotFoundError(f"no simulation {key} in the snapshots of {night}")
        return row_dict(normalize_prenight_index(frame))


def _tonight(now: dt.datetime | None) -> dt.date:
    from ..dayobs import today_dayobs

    return today_dayobs(now)


def _running_embedded_url(settings: ArchiveSettings) -> str | None:
    """The embedded server's URL when it runs under the state directory; readers never start it."""
    from ..embedded import _server_alive, _url

    pgdata = settings.state_dir / "pgdata"
    if _server_alive(pgdata) and (pgdata / ".s.PGSQL.5432").exists():
        return _url(pgdata)
    return None
