"""Dagster resources: the archive and the ConsDB, as interfaces with real implementations.

The resources are thin: every piece of logic lives in the rest of ``vseq_resources`` and works
without Dagster. A resource holds settings (plain values, or ``EnvVar`` for secrets, so that a
secret never appears in the run configuration Dagster stores and shows) and opens the real object
once per run step.

- :class:`ArchiveResource`: a :class:`~vseq_resources.archive.VisitSequenceArchive`. Each field
  left unset falls back to :meth:`ArchiveSettings.from_env` in the process that runs the step, so
  a deployment configures the archive through the same variables as the CLI
  (``VSEQ_DATABASE_URL`` / ``VSARCHIVE_PG*``, ``VSARCHIVE_PGSCHEMA``, ``VSEQ_ARCHIVE_URI``...).
- :class:`ConsDBResource`: the interface the assets depend on, with the implementations
  :class:`SqlConsDBResource` (SQLAlchemy straight to a ConsDB PostgreSQL, password from an
  ``EnvVar`` if libpq cannot find one), :class:`RestConsDBResource` (the ConsDB REST query
  service, bearer token from an ``EnvVar``) and :class:`LocalConsDBResource` (the local ConsDB of
  the embedded server, for demos). :func:`consdb_resource_from_env` picks one from the environment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field, PrivateAttr

from .config import DEFAULT_SCHEDULER_CONFIG

if TYPE_CHECKING:
    import pandas as pd

    from .archive import VisitSequenceArchive
    from .config import ArchiveSettings, PrenightSettings
    from .consdb.client import ConsDBClient


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
    migrate: bool | None = Field(
        default=None,
        description="Create/upgrade the metadata schema when opening (default: only the embedded one).",
    )

    _archive: Any = PrivateAttr(default=None)

    def settings(self) -> ArchiveSettings:
        """The archive settings: the fields given, the environment for the others."""
        from .config import ArchiveSettings, validate_schema_name

        base = ArchiveSettings.from_env()
        changes: dict[str, Any] = {}
        if self.database_url:
            if sa.make_url(self.database_url).password:
                from .errors import ConfigurationError

                # Resource config is stored in the run configuration, shown in the UI.
                raise ConfigurationError(
                    "the archive's database_url must not carry a password: use PGPASSWORD or ~/.pgpass"
                )
            changes["database_url"] = self.database_url
        if self.db_schema:
            changes["schema"] = validate_schema_name(self.db_schema)
        if self.archive_uri:
            changes["archive_uri"] = self.archive_uri
        if self.prenight_index_uri:
            changes["prenight_index_uri"] = self.prenight_index_uri
        if self.state_dir:
            changes["state_dir"] = Path(self.state_dir).expanduser().resolve()
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
        url = sa.make_url(self.url)
        if url.password:
            from .errors import ConfigurationError

            raise ConfigurationError("the ConsDB URL must not carry a password: use an EnvVar for `password`")
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
        return f"ConsDB SQL {sa.make_url(self.url).render_as_string(hide_password=True)}"


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

    _client: Any = PrivateAttr(default=None)

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


CONSDB_URL_ENV = "VSEQ_CONSDB_URL"
CONSDB_PASSWORD_ENV = "VSEQ_CONSDB_PASSWORD"
CONSDB_REST_URL_ENV = "VSEQ_CONSDB_REST_URL"
CONSDB_TOKEN_ENV = "VSEQ_CONSDB_TOKEN"


def consdb_resource_from_env(environ: Mapping[str, str] | None = None) -> ConsDBResource:
    """The ConsDB resource the environment asks for.

    - ``VSEQ_CONSDB_REST_URL``: the REST service, token from ``VSEQ_CONSDB_TOKEN`` (an ``EnvVar``:
      read when a step runs, never stored in the run configuration).
    - ``VSEQ_CONSDB_URL``: direct SQL; a password, if libpq cannot find one, from
      ``VSEQ_CONSDB_PASSWORD`` (an ``EnvVar`` too).
    - neither: the local ConsDB that ``vseq-nightly`` prepares in the embedded server.
    """
    env = os.environ if environ is None else environ
    rest_url = env.get(CONSDB_REST_URL_ENV)
    if rest_url:
        token = EnvVar(CONSDB_TOKEN_ENV) if env.get(CONSDB_TOKEN_ENV) else None
        return RestConsDBResource(base_url=rest_url, token=token)
    url = env.get(CONSDB_URL_ENV)
    if url:
        password = EnvVar(CONSDB_PASSWORD_ENV) if env.get(CONSDB_PASSWORD_ENV) else None
        return SqlConsDBResource(url=url, password=password)
    return LocalConsDBResource()


# -- pre-night simulations ---------------------------------------------------------------------

PRENIGHT_SCHEDULER_ENV = "VSEQ_PRENIGHT_SCHEDULER"
PRENIGHT_NIGHTS_ENV = "VSEQ_PRENIGHT_NIGHTS"
PRENIGHT_VARIANTS_ENV = "VSEQ_PRENIGHT_VARIANTS"
PRENIGHT_LOOKBACK_ENV = "VSEQ_PRENIGHT_LOOKBACK_NIGHTS"


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
        description="Variant names (nominal, delay_<minutes>, seeing_<arcsec>); default: the production set.",
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
        )


def prenight_resource_from_env(environ: Mapping[str, str] | None = None) -> PrenightSimulationResource:
    """The pre-night simulation settings from ``VSEQ_PRENIGHT_*`` (read when definitions load)."""
    env = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    if env.get(PRENIGHT_SCHEDULER_ENV):
        settings["scheduler"] = env[PRENIGHT_SCHEDULER_ENV]
    if env.get(PRENIGHT_NIGHTS_ENV):
        settings["nights"] = int(env[PRENIGHT_NIGHTS_ENV])
    if env.get(PRENIGHT_VARIANTS_ENV):
        settings["variants"] = [v for v in env[PRENIGHT_VARIANTS_ENV].replace(",", " ").split() if v]
    if env.get(PRENIGHT_LOOKBACK_ENV):
        settings["lookback_nights"] = int(env[PRENIGHT_LOOKBACK_ENV])
    return PrenightSimulationResource(**settings)
