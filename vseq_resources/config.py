"""vseq's settings: every environment variable is read here, once, into typed frozen objects.

:meth:`Settings.from_env` reads the whole environment (archive, ConsDB, pre-night simulations,
schedules, Dagster); each section also reads itself alone (:meth:`ArchiveSettings.from_env` is
what the CLI and the Python API use). A bad value raises one :class:`ConfigurationError` naming the
variable and the fix, when the settings are read (the CLI's first use of the archive, the loading
of the Dagster definitions, the start of ``vseq-nightly``), never later in a run.

With nothing configured, vseq runs on an embedded PostgreSQL server and a ``file://`` store, both
under one local state directory. Real deployments set the production variables (``VSARCHIVE_PG*``,
as the reference archive reads them) or ``VSEQ_DATABASE_URL`` (not both: that is an error, since
the two could name different databases), and a store URI.

Secrets never pass through here: database passwords come from libpq (``PGPASSWORD``,
``~/.pgpass``), so a URL carrying one (``user:pw@`` or ``?password=``) is refused without echoing
it; the ConsDB token and password stay in the environment, and only whether they are set is
recorded (Dagster reads them itself through ``EnvVar``).

Plain dataclasses rather than pydantic: the CLI reads these settings on every command, and
importing pydantic would lengthen the start-up of every metadata-only command
(``docs/benchmarks.md``, "Settings without pydantic").
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigurationError

DEFAULT_SCHEMA = "vsmd"
TELESCOPES = ("simonyi", "auxtel")
DEFAULT_SCHEDULER_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"

# The variables, by section. Each is read only in this module.
DATABASE_URL_ENV = "VSEQ_DATABASE_URL"
PG_PART_ENVS = ("VSARCHIVE_PGHOST", "VSARCHIVE_PGPORT", "VSARCHIVE_PGDATABASE", "VSARCHIVE_PGUSER")
SCHEMA_ENV = "VSARCHIVE_PGSCHEMA"
ARCHIVE_URI_ENV = "VSEQ_ARCHIVE_URI"
INDEX_URI_ENV = "VSEQ_PRENIGHT_INDEX_URI"
STATE_DIR_ENV = "VSEQ_STATE_DIR"
STORE_HTTP_URL_ENV = "VSEQ_STORE_HTTP_URL"

CONSDB_REST_URL_ENV = "VSEQ_CONSDB_REST_URL"
CONSDB_TOKEN_ENV = "VSEQ_CONSDB_TOKEN"
CONSDB_URL_ENV = "VSEQ_CONSDB_URL"
CONSDB_PASSWORD_ENV = "VSEQ_CONSDB_PASSWORD"

PRENIGHT_SCHEDULER_ENV = "VSEQ_PRENIGHT_SCHEDULER"
PRENIGHT_NIGHTS_ENV = "VSEQ_PRENIGHT_NIGHTS"
PRENIGHT_VARIANTS_ENV = "VSEQ_PRENIGHT_VARIANTS"
PRENIGHT_LOOKBACK_ENV = "VSEQ_PRENIGHT_LOOKBACK_NIGHTS"

PARTITIONS_START_ENV = "VSEQ_PARTITIONS_START"
COMPLETED_SCHEDULE_TIME_ENV = "VSEQ_COMPLETED_SCHEDULE_TIME"
PRENIGHT_SCHEDULE_TIME_ENV = "VSEQ_PRENIGHT_SCHEDULE_TIME"
SCHEDULES_RUNNING_ENV = "VSEQ_SCHEDULES_RUNNING"

DAGSTER_PG_URL_ENV = "VSEQ_DAGSTER_PG_URL"
IO_S3_BUCKET_ENV = "VSEQ_IO_S3_BUCKET"
IO_S3_PREFIX_ENV = "VSEQ_IO_S3_PREFIX"
S3_ENDPOINT_URL_ENV = "S3_ENDPOINT_URL"
EXECUTOR_ENV = "VSEQ_EXECUTOR"
CELERY_BROKER_URL_ENV = "VSEQ_CELERY_BROKER_URL"
EXECUTORS = ("in_process", "celery")
"""How a run executes its steps: in the run's own process (one machine, the default) or as Celery
tasks on the workers of a broker (several hosts: ``docs/deployment.md``, "Distributed mode")."""

DEFAULT_PARTITIONS_START = "2025-04-15"
"""LSSTCam's first photon: the first dayobs partition unless ``VSEQ_PARTITIONS_START`` says otherwise."""
DEFAULT_COMPLETED_SCHEDULE_TIME = "00:30"
"""Dayobs time (``Etc/GMT+12``): 12:30 UTC, half an hour after the night ends, for ConsDB to ingest."""
DEFAULT_PRENIGHT_SCHEDULE_TIME = "06:00"
"""Dayobs time: 18:00 UTC, afternoon in Chile, after the completed night and before sunset."""
DEFAULT_IO_S3_PREFIX = "vseq-dagster-io"
MAX_PRENIGHT_NIGHTS = 14


# -- reading one variable ------------------------------------------------------------------------


def _value(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value; unset and empty are the same (an empty value never means anything)."""
    value = env.get(name)
    return value if value else None


def _integer(env: Mapping[str, str], name: str, low: int, high: int | None = None) -> int | None:
    text = _value(env, name)
    if text is None:
        return None
    bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
    try:
        number = int(text.strip())
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        raise ConfigurationError(f"{name}={text!r} is not a whole number {bound}: fix it or unset it")
    return number


def _hour_minute(env: Mapping[str, str], name: str, default: str) -> tuple[int, int]:
    text = _value(env, name) or default
    try:
        hour, minute = (int(part) for part in text.split(":"))
    except ValueError:
        hour = minute = -1
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ConfigurationError(f"{name}={text!r} is not a time of day: use HH:MM (e.g. {default})")
    return hour, minute


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = (_value(env, name) or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name}={text!r} is not a yes/no value: use 1 or 0")


def _dayobs(env: Mapping[str, str], name: str, default: str) -> dt.date:
    from .dayobs import parse_dayobs

    text = _value(env, name) or default
    try:
        return parse_dayobs(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not a dayobs: use YYYY-MM-DD or YYYYMMDD") from None


def check_url_without_password(url: str, name: str) -> str:
    """Refuse a database URL that is not one, or that carries a password (in ``user:pw@`` or a
    ``password`` query parameter); neither the URL nor the password is echoed. Returns ``url``."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigurationError(
            f"{name} is not a database URL: use postgresql+psycopg2://user@host:port/database"
        ) from None
    if parsed.password is not None or any(key.lower() == "password" for key in parsed.query):
        raise ConfigurationError(
            f"{name} must not carry a password: remove it from the URL and use PGPASSWORD or ~/.pgpass"
        )
    return url


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The local state directory: ``$VSEQ_STATE_DIR`` or ``/var/tmp/vseq-<user>``.

    Not under the home directory: the embedded PostgreSQL server opens the permissions of every
    parent of its data directory, which must not happen to ``/root``.
    """
    explicit = _value(os.environ if environ is None else environ, STATE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    return Path("/var/tmp") / f"vseq-{getpass.getuser()}"


def _as_dir_uri(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


# -- the archive ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveSettings:
    """Everything needed to open an archive.

    ``database_url`` is a SQLAlchemy URL without a password, or None for the embedded server.
    """

    database_url: str | None = None
    schema: str = DEFAULT_SCHEMA
    archive_uri: str | None = None
    prenight_index_uri: str | None = None
    state_dir: Path = field(default_factory=default_state_dir)
    store_http_url: str | None = None
    """An http(s) URL serving the store's base (``vseq-services start`` serves the figures of
    any store at ``http://127.0.0.1:3001/``); links to stored figures use it."""

    @property
    def store_uri(self) -> str:
        return _as_dir_uri(self.archive_uri or (self.state_dir / "archive").as_uri())

    def http_url(self, store_url: str) -> str | None:
        """The http(s) URL of a file in the store (``store_http_url`` + its path in the store),
        or None when no http URL serves the store or the file is not in it."""
        base = self.store_uri
        if not self.store_http_url or not store_url.startswith(base):
            return None
        relative = store_url[len(base) :]
        return _as_dir_uri(self.store_http_url) + urllib.parse.quote(relative)

    @property
    def index_uri(self) -> str:
        return _as_dir_uri(self.prenight_index_uri or (self.state_dir / "prenight_index").as_uri())

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        database: str | None = None,
        host: str | None = None,
        user: str | None = None,
        schema: str | None = None,
        archive_uri: str | None = None,
    ) -> ArchiveSettings:
        """Settings from explicit values (the CLI's options), then the environment, then the
        embedded defaults.

        The database: the explicit ``database``/``host``/``user`` with the other ``VSARCHIVE_PG*``
        parts; else ``VSARCHIVE_PG*``; else ``VSEQ_DATABASE_URL``; else the embedded server.
        ``VSARCHIVE_PG*`` and ``VSEQ_DATABASE_URL`` both set is an error (they could name two
        databases). Also ``VSARCHIVE_PGSCHEMA``, ``VSEQ_ARCHIVE_URI``, ``VSEQ_PRENIGHT_INDEX_URI``,
        ``VSEQ_STATE_DIR``.
        """
        env = os.environ if environ is None else environ
        parts = {name: _value(env, name) for name in PG_PART_ENVS}
        url = _value(env, DATABASE_URL_ENV)
        explicit = database or host or user
        if any(parts.values()) and url is not None and not explicit:
            given = ", ".join(name for name, value in parts.items() if value)
            raise ConfigurationError(
                f"{DATABASE_URL_ENV} and {given} are both set: unset one of them "
                f"(VSARCHIVE_PG* as production sets them, or {DATABASE_URL_ENV})"
            )
        port = _integer(env, "VSARCHIVE_PGPORT", 1, 65535)
        if explicit or any(parts.values()):
            url = postgres_url(
                host=host or parts["VSARCHIVE_PGHOST"],
                port=port,
                database=database or parts["VSARCHIVE_PGDATABASE"],
                user=user or parts["VSARCHIVE_PGUSER"],
            )
        elif url is not None:
            check_url_without_password(url, DATABASE_URL_ENV)
        schema = schema or _value(env, SCHEMA_ENV) or DEFAULT_SCHEMA
        validate_schema_name(schema)
        return cls(
            database_url=url,
            schema=schema,
            archive_uri=archive_uri or _archive_uri(env),
            prenight_index_uri=_value(env, INDEX_URI_ENV),
            state_dir=default_state_dir(env),
            store_http_url=store_http_url(env),
        )


def store_http_url(env: Mapping[str, str]) -> str | None:
    """``VSEQ_STORE_HTTP_URL``: an ``http://`` or ``https://`` URL without credentials."""
    value = _value(env, STORE_HTTP_URL_ENV)
    if value is None:
        return None
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            f"{STORE_HTTP_URL_ENV} must be an http(s) URL serving the store, e.g. http://127.0.0.1:3001/"
        )
    if parsed.username or parsed.password or parsed.query:
        raise ConfigurationError(
            f"{STORE_HTTP_URL_ENV} must not carry credentials or a query: it is shown in the UI"
        )
    return value


def _archive_uri(env: Mapping[str, str]) -> str | None:
    """``VSEQ_ARCHIVE_URI``: unset means the state-dir store; set but empty is refused, since
    falling back would silently write to a store other than the one the caller meant."""
    value = env.get(ARCHIVE_URI_ENV)
    if value is not None and not value.strip():
        raise ConfigurationError(
            f"{ARCHIVE_URI_ENV} is set but empty: set it to the store (file:///... or s3://...), "
            "or unset it to use the store in the state directory"
        )
    return value


def postgres_url(*, host: str | None, port: int | None, database: str | None, user: str | None) -> str:
    """A psycopg2 SQLAlchemy URL from libpq-style parts (no password: libpq finds it)."""
    netloc = (f"{user}@" if user else "") + (host or "")
    if port:
        netloc += f":{port}"
    return f"postgresql+psycopg2://{netloc}/{database or ''}"


def validate_schema_name(schema: str) -> str:
    """Schema names are interpolated into DDL, so only plain identifiers are allowed."""
    if not schema.isidentifier() or not schema.isascii() or len(schema) > 63:
        raise ConfigurationError(f"invalid schema name {schema!r}: use letters, digits and _")
    return schema


# -- the ConsDB ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsDBSettings:
    """Where completed visits come from: the REST service, direct SQL, else the local demo ConsDB.

    The token and password are not held here: only whether their variables are set, so that the
    Dagster resource can read them itself when a step runs (``EnvVar``).
    """

    rest_url: str | None = None
    token_set: bool = False
    url: str | None = None
    password_set: bool = False

    @property
    def kind(self) -> str:
        """``rest`` (wins when both are set), ``sql`` or ``local``."""
        return "rest" if self.rest_url else "sql" if self.url else "local"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsDBSettings:
        """``VSEQ_CONSDB_REST_URL`` (+ ``VSEQ_CONSDB_TOKEN``), ``VSEQ_CONSDB_URL`` (+
        ``VSEQ_CONSDB_PASSWORD``)."""
        env = os.environ if environ is None else environ
        url = _value(env, CONSDB_URL_ENV)
        if url is not None:
            check_url_without_password(url, CONSDB_URL_ENV)
        return cls(
            rest_url=_value(env, CONSDB_REST_URL_ENV),
            token_set=_value(env, CONSDB_TOKEN_ENV) is not None,
            url=url,
            password_set=_value(env, CONSDB_PASSWORD_ENV) is not None,
        )


# -- pre-night simulations -----------------------------------------------------------------------


@dataclass(frozen=True)
class PrenightSettings:
    """What the pre-night simulations of a night run: configuration, nights, variants.

    ``scheduler`` is a Python file (local path or URL, recorded as ``config_url``) defining
    ``get_scheduler()``, or ``package.module:function``; by default vseq's offline survey
    (:mod:`vseq_resources.simulation.default_config`). ``variants`` None means the production set.
    """

    scheduler: str = DEFAULT_SCHEDULER_CONFIG
    nights: int = 3
    variants: tuple[str, ...] | None = None
    duration_hours: float | None = None
    record_rewards: bool = True
    lookback_nights: int | None = None
    record_mixed: bool = True
    site_data_dir: str | None = None
    resimulate: bool = False
    """Simulate every variant even when an archived simulation has the same inputs (else reused)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PrenightSettings:
        """``VSEQ_PRENIGHT_SCHEDULER``, ``_NIGHTS`` (1-14), ``_VARIANTS`` (names separated by
        spaces or commas; an unknown name fails the step that runs it, since checking it here
        would import rubin_scheduler wherever settings are read), ``_LOOKBACK_NIGHTS``."""
        env = os.environ if environ is None else environ
        variants_text = _value(env, PRENIGHT_VARIANTS_ENV)
        variants = tuple(v for v in (variants_text or "").replace(",", " ").split() if v) or None
        return cls(
            scheduler=_value(env, PRENIGHT_SCHEDULER_ENV) or DEFAULT_SCHEDULER_CONFIG,
            nights=_integer(env, PRENIGHT_NIGHTS_ENV, 1, MAX_PRENIGHT_NIGHTS) or 3,
            variants=variants,
            lookback_nights=_integer(env, PRENIGHT_LOOKBACK_ENV, 1),
        )

    def variant_list(self) -> list:
        """The :class:`~vseq_resources.simulation.SimulationVariant` objects to run."""
        from .simulation.variants import DEFAULT_VARIANTS, variant_by_name

        if not self.variants:
            return list(DEFAULT_VARIANTS)
        return [variant_by_name(name) for name in self.variants]

    def check_scheduler(self) -> str:
        """Check that the scheduler configuration can be loaded, before a run starts (the module
        imports and has the function, or the script exists and compiles); returns the
        ``config_url`` it records. One `ConfigurationError` line naming the variable otherwise."""
        from .errors import InvalidInputError
        from .simulation.config_loader import check_scheduler_source

        try:
            return check_scheduler_source(self.scheduler)
        except InvalidInputError as err:
            raise ConfigurationError(
                f"{PRENIGHT_SCHEDULER_ENV}={self.scheduler!r}: {err}; fix it, or unset it for the default "
                f"({DEFAULT_SCHEDULER_CONFIG})"
            ) from None

    def site_data_path(self, state_dir: Path) -> Path:
        """Where prepared site data are cached: ``site_data_dir``, else ``<state dir>/site_data``."""
        return Path(self.site_data_dir).expanduser() if self.site_data_dir else state_dir / "site_data"


# -- partitions and schedules --------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSettings:
    """The first dayobs partition and when the daily schedules tick (hour, minute in dayobs time)."""

    partitions_start: dt.date = dt.date.fromisoformat(DEFAULT_PARTITIONS_START)
    completed_time: tuple[int, int] = (0, 30)
    prenight_time: tuple[int, int] = (6, 0)
    running: bool = False
    """Whether schedules start running when first loaded (else stopped until turned on)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScheduleSettings:
        """``VSEQ_PARTITIONS_START``, ``VSEQ_COMPLETED_SCHEDULE_TIME``,
        ``VSEQ_PRENIGHT_SCHEDULE_TIME``, ``VSEQ_SCHEDULES_RUNNING``."""
        env = os.environ if environ is None else environ
        return cls(
            partitions_start=_dayobs(env, PARTITIONS_START_ENV, DEFAULT_PARTITIONS_START),
            completed_time=_hour_minute(env, COMPLETED_SCHEDULE_TIME_ENV, DEFAULT_COMPLETED_SCHEDULE_TIME),
            prenight_time=_hour_minute(env, PRENIGHT_SCHEDULE_TIME_ENV, DEFAULT_PRENIGHT_SCHEDULE_TIME),
            running=_flag(env, SCHEDULES_RUNNING_ENV),
        )


# -- Dagster's own storage -------------------------------------------------------------------------


@dataclass(frozen=True)
class DagsterSettings:
    """Dagster's storage URL (read by ``dagster.yaml``), where steps pass tables (S3 or disk), and
    which executor runs the steps (in the run's process, or Celery workers on other hosts)."""

    storage_url: str | None = None
    io_s3_bucket: str | None = None
    io_s3_prefix: str = DEFAULT_IO_S3_PREFIX
    s3_endpoint_url: str | None = None
    executor: str = "in_process"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DagsterSettings:
        """``VSEQ_DAGSTER_PG_URL`` (no password in it), ``VSEQ_IO_S3_BUCKET``,
        ``VSEQ_IO_S3_PREFIX``, ``S3_ENDPOINT_URL``, ``VSEQ_EXECUTOR`` (``celery`` needs
        ``VSEQ_CELERY_BROKER_URL`` and ``VSEQ_IO_S3_BUCKET``: a step on another host cannot read
        the tables an earlier step left on this host's disk)."""
        env = os.environ if environ is None else environ
        storage_url = _value(env, DAGSTER_PG_URL_ENV)
        if storage_url is not None:
            check_url_without_password(storage_url, DAGSTER_PG_URL_ENV)
        executor = (_value(env, EXECUTOR_ENV) or "in_process").strip().lower().replace("-", "_")
        if executor not in EXECUTORS:
            raise ConfigurationError(
                f"{EXECUTOR_ENV}={env[EXECUTOR_ENV]!r} is not an executor: use in_process or celery"
            )
        io_s3_bucket = _value(env, IO_S3_BUCKET_ENV)
        if io_s3_bucket is not None and not re.fullmatch(r"[a-zA-Z0-9.\-_]{1,255}", io_s3_bucket):
            # boto, under Dagster's S3 IO manager, refuses it at the first step otherwise.
            raise ConfigurationError(
                f"{IO_S3_BUCKET_ENV}={io_s3_bucket!r} is not a bucket name boto accepts: give the plain "
                f"name (no Ceph tenant prefix: the credentials' own tenant is used; a path goes in "
                f"{IO_S3_PREFIX_ENV})"
            )
        if executor == "celery":
            broker = _value(env, CELERY_BROKER_URL_ENV)
            for name, value in ((CELERY_BROKER_URL_ENV, broker), (IO_S3_BUCKET_ENV, io_s3_bucket)):
                if value is None:
                    raise ConfigurationError(
                        f"{EXECUTOR_ENV}=celery needs {name}: set it (docs/deployment.md, Distributed mode)"
                    )
        return cls(
            storage_url=storage_url,
            io_s3_bucket=io_s3_bucket,
            io_s3_prefix=_value(env, IO_S3_PREFIX_ENV) or DEFAULT_IO_S3_PREFIX,
            s3_endpoint_url=_value(env, S3_ENDPOINT_URL_ENV),
            executor=executor,
        )


# -- everything ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Every vseq setting, read from the environment at once."""

    archive: ArchiveSettings
    consdb: ConsDBSettings
    prenight: PrenightSettings
    schedule: ScheduleSettings
    dagster: DagsterSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """All sections; the first bad value raises its :class:`ConfigurationError`."""
        env = os.environ if environ is None else environ
        return cls(
            archive=ArchiveSettings.from_env(env),
            consdb=ConsDBSettings.from_env(env),
            prenight=PrenightSettings.from_env(env),
            schedule=ScheduleSettings.from_env(env),
            dagster=DagsterSettings.from_env(env),
        )

    def host_local(self) -> list[str]:
        """What these settings keep on the disk of the host that runs a step, each as a line
        naming the variable to set instead: the embedded database, a ``file://`` store or index,
        the local demo ConsDB (both in the embedded server under ``VSEQ_STATE_DIR``).

        Steps that may run on other hosts (``VSEQ_IO_S3_BUCKET``) need none of these: each
        worker would have its own, empty one. What a worker keeps under its state directory
        otherwise (the completed-visits cache, prepared site data) is rebuilt from the archive
        when missing, and ``TMPDIR`` holds only the files of the running step.
        """
        problems = []
        if self.archive.uses_embedded_database:
            problems.append(
                f"the metadata database is the embedded server under {STATE_DIR_ENV}: set "
                f"{DATABASE_URL_ENV} or VSARCHIVE_PGHOST"
            )
        for name, uri in ((ARCHIVE_URI_ENV, self.archive.store_uri), (INDEX_URI_ENV, self.archive.index_uri)):
            if uri.startswith("file:"):
                problems.append(f"{name} is on this host's disk ({uri}): set an s3:// URI")
        if self.consdb.kind == "local":
            problems.append(
                f"ConsDB is the local demo database under {STATE_DIR_ENV}: set {CONSDB_URL_ENV} or "
                f"{CONSDB_REST_URL_ENV}"
            )
        return problems
