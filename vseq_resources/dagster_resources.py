"""Dagster resources: the archive, the ConsDB and the pre-night simulations, as configurable fields.

The resources are thin: every piece of logic lives in the rest of ``vseq_resources`` and works
without Dagster; this is the only module of the library that imports Dagster. A resource holds
settings (plain values, or ``EnvVar`` for secrets, so that a secret never appears in the
configuration Dagster stores and shows) and opens the real object once per run step. The
definitions build them from :class:`vseq_resources.config.Settings` with every value filled in
(:meth:`ArchiveResource.from_settings`, :func:`consdb_resource`, :func:`prenight_resource`), so
the Dagster UI shows what a run uses.

- :class:`ArchiveResource`: a :class:`~vseq_resources.archive.VisitSequenceArchive`. A field left
  unset falls back to :meth:`ArchiveSettings.from_env` in the process that runs the step.
- :class:`ConsDBResource`: the interface the assets depend on, with the implementations
  :class:`SqlConsDBResource` (SQLAlchemy straight to a ConsDB PostgreSQL, password from an
  ``EnvVar`` if libpq cannot find one), :class:`RestConsDBResource` (the ConsDB REST query
  service, bearer token from an ``EnvVar``) and :class:`LocalConsDBResource` (the local demo
  ConsDB of the embedded server). :func:`consdb_resource` picks one from the settings.
- :class:`PrenightSimulationResource`: what the pre-night simulations run
  (:class:`~vseq_resources.config.PrenightSettings` as fields).
- :class:`VseqArchiveIOManager`: loads archived partitions of vseq's assets, from the archive
  itself, for downstream assets in any code location.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    EnvVar,
    InitResourceContext,
    InputContext,
    OutputContext,
)
from pydantic import Field, PrivateAttr

from .config import DEFAULT_SCHEDULER_CONFIG

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd

    from .archive import VisitSequenceArchive
    from .config import ArchiveSettings, ConsDBSettings, PrenightSettings
    from .consdb.client import ConsDBClient
    from .consdb.ingestion import NightIngestion


# -- the archive -------------------------------------------------------------------------------


class ArchiveResource(ConfigurableResource):
    """The visit sequence archive (metadata database + store) that assets write to.

    Unset fields come from the environment of the process running the step (see
    :meth:`ArchiveSettings.from_env`); with nothing set at all, that is the embedded PostgreSQL
    server and a ``file://`` store under the state directory.
    """

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database, without a password (libpq reads "
        "PGPASSWORD or ~/.pgpass). Default: VSEQ_DATABASE_URL / VSARCHIVE_PG*, else the embedded server.",
    )
    db_schema: str | None = Field(
        default=None, description="Metadata schema (default VSARCHIVE_PGSCHEMA or vsmd)."
    )
    archive_uri: str | None = Field(default=None, description="Store base URI (default VSEQ_ARCHIVE_URI).")
    prenight_index_uri: str | None = Field(
        default=None, description="Pre-night index base URI (default VSEQ_PRENIGHT_INDEX_URI)."
    )
    state_dir: str | None = Field(default=None, description="Local state directory (default VSEQ_STATE_DIR).")
    store_http_url: str | None = Field(
        default=None,
        description="http(s) URL serving the store, for links to its figures in the UI (default "
        "VSEQ_STORE_HTTP_URL; `vseq-services start` serves one at http://127.0.0.1:3001/).",
    )
    migrate: bool | None = Field(
        default=None,
        description="Create/upgrade the metadata schema when opening (default: only the embedded one).",
    )

    _archive: Any = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> ArchiveResource:
        """A resource whose fields are these settings, so that the UI shows what a run uses."""
        return cls(
            database_url=settings.database_url,
            db_schema=settings.schema,
            archive_uri=settings.store_uri,
            prenight_index_uri=settings.index_uri,
            state_dir=str(settings.state_dir),
            store_http_url=settings.store_http_url,
        )

    def settings(self) -> ArchiveSettings:
        """The archive settings: the fields given, the environment for the others."""
        from .config import (
            STORE_HTTP_URL_ENV,
            ArchiveSettings,
            check_url_without_password,
            store_http_url,
            validate_schema_name,
        )

        base = ArchiveSettings.from_env()
        changes: dict[str, Any] = {}
        if self.database_url:
            # Resource config is stored in the run configuration, shown in the UI.
            changes["database_url"] = check_url_without_password(
                self.database_url, "the archive's database_url"
            )
        if self.db_schema:
            changes["schema"] = validate_schema_name(self.db_schema)
        if self.archive_uri:
            changes["archive_uri"] = self.archive_uri
        if self.prenight_index_uri:
            changes["prenight_index_uri"] = self.prenight_index_uri
        if self.state_dir:
            changes["state_dir"] = Path(self.state_dir).expanduser().resolve()
        if self.store_http_url:
            changes["store_http_url"] = store_http_url({STORE_HTTP_URL_ENV: self.store_http_url})
        return dataclasses.replace(base, **changes)

    def open(self) -> VisitSequenceArchive:
        """A new archive object for these settings (the caller disposes of it)."""
        from .archive import VisitSequenceArchive

        return VisitSequenceArchive.open(self.settings(), migrate=self.migrate)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._archive = None

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._archive is not None:
            _dispose(self._archive)
            self._archive = None

    def get_archive(self) -> VisitSequenceArchive:
        """The archive of this step, opened on first use and closed after the step."""
        if self._archive is None:
            self._archive = self.open()
        return self._archive


def _dispose(archive: VisitSequenceArchive) -> None:
    """Release the database connections of an archive."""
    archive.metadata.close()


# -- the ConsDB --------------------------------------------------------------------------------


class ConsDBResource(ConfigurableResource):
    """Interface: the ConsDB as the assets need it.

    Implementations only say how to reach the service (:meth:`client`); the query, the raw rows
    and their conversion to the opsim schema are the same for all of them, from
    :mod:`vseq_resources.consdb`.
    """

    def client(self) -> ConsDBClient:
        raise NotImplementedError(f"{type(self).__name__} does not implement client()")

    def describe(self) -> str:
        """Where the visits come from, for metadata and logs (never includes a secret)."""
        return type(self).__name__

    def night_query(self, telescope: str, day_obs: str | int | dt.date) -> str:
        """The SQL text that selects one night's completed visits (recorded with the sequence)."""
        from .consdb.instruments import instrument_for
        from .consdb.query import night_visits_query
        from .dayobs import parse_dayobs

        return night_visits_query(instrument_for(telescope), parse_dayobs(day_obs).isoformat())

    def night_ingestion(self, telescope: str, day_obs: str | int | dt.date) -> NightIngestion:
        """What ConsDB holds of the night, and whether it has ingested it
        (:func:`vseq_resources.consdb.ingestion.require_ingested`: raises
        :class:`~vseq_resources.consdb.ingestion.NightNotIngestedError` when it has not)."""
        from .consdb.ingestion import require_ingested
        from .consdb.instruments import instrument_for

        return require_ingested(self.client(), instrument_for(telescope), day_obs, self.describe())

    def night_visits(self, telescope: str, day_obs: str | int | dt.date) -> pd.DataFrame:
        """The raw ConsDB rows (``visit1`` joined to its quick-look table) of one night."""
        return self.client().query(self.night_query(telescope, day_obs))

    def night_opsim_visits(
        self, telescope: str, day_obs: str | int | dt.date
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The raw rows of one night and the same visits in the opsim ``observations`` schema."""
        from .consdb.convert import consdb_to_opsim
        from .consdb.instruments import instrument_for

        raw = self.night_visits(telescope, day_obs)
        return raw, consdb_to_opsim(raw, instrument_for(telescope))


class SqlConsDBResource(ConsDBResource):
    """Direct SQL to a ConsDB PostgreSQL (inside the observatory's networks)."""

    url: str = Field(description="SQLAlchemy URL of the ConsDB database, without a password.")
    password: str | None = Field(
        default=None,
        description="Password, when libpq cannot find one (PGPASSWORD, ~/.pgpass): give it as an EnvVar.",
    )
    connect_timeout: int = Field(default=10, description="Seconds to wait for a connection.")

    _client: Any = PrivateAttr(default=None)

    def engine_url(self) -> sa.URL:
        """The URL to connect with: ``url`` (refused if it carries a password) plus ``password``."""
        from .config import check_url_without_password

        url = sa.make_url(check_url_without_password(self.url, "the ConsDB URL"))
        return url.set(password=self.password) if self.password else url

    def client(self) -> ConsDBClient:
        if self._client is None:
            from .consdb.client import SqlConsDBClient

            url = self.engine_url()
            connect_args = {}
            if url.get_backend_name() == "postgresql":
                connect_args["connect_timeout"] = self.connect_timeout
            engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
            self._client = SqlConsDBClient(engine)
        return self._client

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._client is not None:
            self._client.engine.dispose()
            self._client = None

    def describe(self) -> str:
        return f"ConsDB SQL {self.engine_url().render_as_string(hide_password=True)}"


class RestConsDBResource(ConsDBResource):
    """The ConsDB REST query service: ``POST {base_url}/query`` with ``{"query": sql}``."""

    base_url: str = Field(description="Base URL of the service (the part before /query).")
    token: str | None = Field(default=None, description="Bearer token: always give it as an EnvVar.")
    timeout: float = Field(default=60.0, description="Seconds per request.")
    retries: int = Field(default=3, description="Retries of a failed request, with exponential backoff.")
    backoff: float = Field(
        default=2.0, description="Backoff (seconds): the first retry at once, then after 2x, 4x... this."
    )

    def client(self) -> ConsDBClient:
        from .consdb.client import RestConsDBClient

        return RestConsDBClient(
            self.base_url, token=self.token, timeout=self.timeout, retries=self.retries, backoff=self.backoff
        )

    def describe(self) -> str:
        return f"ConsDB REST {self.base_url.rstrip('/')}/query"


class LocalConsDBResource(ConsDBResource):
    """The local ConsDB that ``vseq-nightly`` prepares: database ``consdb`` in the embedded server.

    For demos and development on a machine without access to the observatory's ConsDB. The
    embedded server is started (or reused) when a step first needs it, not when definitions load.
    """

    state_dir: str | None = Field(default=None, description="State directory (default VSEQ_STATE_DIR).")
    database: str = Field(default="consdb", description="Database of the local ConsDB (embedded server).")
    fill_past_nights: bool = Field(
        default=True,
        description=(
            "Simulate and record a night that is over but not in the local ConsDB when a step asks "
            "for it (a backfill); a night that has not ended is never invented."
        ),
    )

    _client: Any = PrivateAttr(default=None)

    def night_ingestion(self, telescope: str, day_obs: str | int | dt.date) -> NightIngestion:
        """As for any ConsDB; first, with ``fill_past_nights``, a past night the local ConsDB has
        not recorded is simulated and recorded (:func:`vseq_resources.consdb.demo.fill_local_consdb`)."""
        from .consdb.demo import nights_present
        from .consdb.instruments import instrument_for
        from .dayobs import dayobs_end, parse_dayobs

        night = parse_dayobs(day_obs)
        if self.fill_past_nights and dayobs_end(night) <= dt.datetime.now(dt.UTC):
            engine = self.client().engine
            if night not in nights_present(engine, instrument_for(telescope), [night]):
                from .config import default_state_dir
                from .consdb.demo import fill_local_consdb

                state_dir = Path(self.state_dir) if self.state_dir else default_state_dir()
                fill_local_consdb(state_dir, [telescope], [night], log.info, database=self.database)
        return super().night_ingestion(telescope, night)

    def client(self) -> ConsDBClient:
        if self._client is None:
            from .consdb.client import SqlConsDBClient
            from .consdb.demo import local_consdb_url

            self._client = SqlConsDBClient(local_consdb_url(self.state_dir, self.database))
        return self._client

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._client is not None:
            self._client.engine.dispose()
            self._client = None

    def describe(self) -> str:
        return f"local ConsDB (database {self.database!r} of the embedded server)"


def consdb_resource(settings: ConsDBSettings, state_dir: Path | None = None) -> ConsDBResource:
    """The ConsDB resource the settings ask for.

    - REST (``VSEQ_CONSDB_REST_URL``): the token from ``VSEQ_CONSDB_TOKEN`` as an ``EnvVar``, read
      when a step runs, never stored in the run configuration.
    - SQL (``VSEQ_CONSDB_URL``): a password, if libpq cannot find one, from
      ``VSEQ_CONSDB_PASSWORD`` (an ``EnvVar`` too).
    - neither: the local demo ConsDB that ``vseq-nightly`` prepares in the embedded server under
      ``state_dir``.
    """
    from .config import CONSDB_PASSWORD_ENV, CONSDB_TOKEN_ENV

    if settings.kind == "rest":
        token = EnvVar(CONSDB_TOKEN_ENV) if settings.token_set else None
        return RestConsDBResource(base_url=settings.rest_url, token=token)
    if settings.kind == "sql":
        password = EnvVar(CONSDB_PASSWORD_ENV) if settings.password_set else None
        return SqlConsDBResource(url=settings.url, password=password)
    return LocalConsDBResource(state_dir=str(state_dir) if state_dir is not None else None)


# -- pre-night simulations ---------------------------------------------------------------------


class PrenightSimulationResource(ConfigurableResource):
    """How the pre-night simulations of a night are run: what to simulate and for how long.

    ``scheduler`` is the configuration to simulate: a Python file (local path or URL, recorded
    as ``config_url``) defining ``get_scheduler()``, or ``package.module:function``; by default
    vseq's offline survey (:mod:`vseq_resources.simulation.default_config`).
    """

    scheduler: str = Field(
        default=DEFAULT_SCHEDULER_CONFIG,
        description="Scheduler configuration: a .py path or URL with get_scheduler(), or module:function.",
    )
    nights: int = Field(
        default=3, ge=1, le=14, description="Nights simulated, starting with the partition's."
    )
    variants: list[str] | None = Field(
        default=None,
        description=(
            "Variant names (nominal, delay_<minutes>, seeing_<arcsec>, anomalous_overhead, "
            "anomalous_overhead_<seed>_<scale>); default: nominal, delay_60, seeing_1.2."
        ),
    )
    duration_hours: float | None = Field(
        default=None, gt=0, description="Cut each simulation to this many hours (tests, quick looks)."
    )
    record_rewards: bool = Field(default=True, description="Record and archive rewards.h5.")
    lookback_nights: int | None = Field(
        default=None,
        ge=1,
        description="Pre-load the completed visits of at most this many nights before the partition "
        "(default: every night in the archive).",
    )
    record_mixed: bool = Field(
        default=True,
        description="Also record a metadata-only mixedvisitseq joining the completed visits and "
        "the nominal run.",
    )
    site_data_dir: str | None = Field(
        default=None, description="Cache of prepared site data (default <state dir>/site_data)."
    )
    resimulate: bool = Field(
        default=False,
        description="Simulate every variant again even when an archived simulation of the partition "
        "has the same inputs (completed visits, configuration, variant, scheduler version, site data); "
        "by default such a simulation is reused.",
    )

    def settings(self) -> PrenightSettings:
        """These fields as the library's plain settings (what :func:`run_prenight` takes)."""
        from .config import PrenightSettings

        return PrenightSettings(
            scheduler=self.scheduler,
            nights=self.nights,
            variants=tuple(self.variants) if self.variants else None,
            duration_hours=self.duration_hours,
            record_rewards=self.record_rewards,
            lookback_nights=self.lookback_nights,
            record_mixed=self.record_mixed,
            site_data_dir=self.site_data_dir,
            resimulate=self.resimulate,
        )


def prenight_resource(settings: PrenightSettings) -> PrenightSimulationResource:
    """The pre-night simulation resource of the library's settings (shown in the UI as its config)."""
    return PrenightSimulationResource(
        scheduler=settings.scheduler,
        nights=settings.nights,
        variants=list(settings.variants) if settings.variants else None,
        duration_hours=settings.duration_hours,
        record_rewards=settings.record_rewards,
        lookback_nights=settings.lookback_nights,
        record_mixed=settings.record_mixed,
        site_data_dir=settings.site_data_dir,
        resimulate=settings.resimulate,
    )


# -- reading archived partitions in any code location ---------------------------------------


ALLOW_MISSING = "vseq/allow_missing"
"""Input metadata key: the vseq archive IO manager gives None for a partition with no value."""


class VseqArchiveIOManager(ConfigurableIOManager):
    """Loads archived partitions of vseq's assets from the archive itself, for downstream assets.

    Declare vseq's assets as ``AssetSpec`` s in your own code location with this IO manager's
    key (``AssetSpec(["simonyi", "completed_visits"], partitions_def=...).with_io_manager_key(
    "vseq_archive")``, or ``AssetIn(..., input_manager_key="vseq_archive")``), and a downstream
    asset gets the partition's value: the visits frame of a completed night or of the
    partition's pre-night simulation, the index frame, metadata rows, the briefing's figure
    URLs. Values come from :data:`vseq_resources.readers.PARTITION_LOADERS` (the mapping
    ``load_partition`` uses), visits files through the one verified read path. A downstream
    asset spanning several partitions gets ``{partition key: value}``.

    It never writes: vseq's own assets record into the archive themselves, so storing an output
    through it is refused.

    An input whose partition may have no value yet (a night with no pre-night simulation) can
    ask for None instead of the error: ``AssetIn(..., metadata={ALLOW_MISSING: True})``
    (:data:`ALLOW_MISSING`); anything but "not found" (an unreachable database, a file that
    fails its checksum) still fails the step.
    """

    archive: ArchiveResource = Field(description="The archive to read (its settings; nothing is written).")
    require_checksum: bool = Field(
        default=False,
        description="Refuse visits files with no recorded SHA-256 (written by production) instead of "
        "reading them with a warning.",
    )
    connect_timeout: float = Field(
        default=3.0, description="Seconds to wait for the metadata database before using the snapshots."
    )

    def load_input(self, context: InputContext) -> Any:
        from .errors import InvalidInputError
        from .readers import ArchiveReader, load_partition

        key = context.asset_key
        if not context.has_asset_partitions:
            raise InvalidInputError(
                f"{key.to_user_string()} is partitioned by dayobs: give the downstream asset dayobs "
                "partitions (or a partition mapping) to read it through the vseq archive IO manager"
            )
        from .errors import NotFoundError

        partitions = list(context.asset_partition_keys)
        allow_missing = bool((context.definition_metadata or {}).get(ALLOW_MISSING))
        reader = ArchiveReader.from_settings(
            self.archive.settings(), self.connect_timeout, require_checksum=self.require_checksum
        )

        def load(partition: str) -> Any:
            try:
                return load_partition(key, partition, reader=reader)
            except NotFoundError as err:
                if not allow_missing:
                    raise
                context.log.info(f"{key.to_user_string()} {partition}: none ({err})")
                return None

        with reader:
            values = {partition: load(partition) for partition in partitions}
        context.log.info(
            f"read {key.to_user_string()} partition(s) {', '.join(partitions)} from the archive "
            f"({reader.last_source or 'database'})"
        )
        return values[partitions[0]] if len(partitions) == 1 else values

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        from .errors import InvalidInputError

        raise InvalidInputError(
            f"the vseq archive IO manager only reads: {context.asset_key.to_user_string()} cannot be "
            "stored through it (vseq's assets record into the archive themselves); give this asset "
            "another IO manager"
        )
