"""Where the archive lives: settings read from the environment, with embedded defaults.

With nothing configured, vseq runs on an embedded PostgreSQL server and a ``file://`` store, both
under one local state directory. Real deployments set the production variables
(``VSARCHIVE_PG*``, as the reference archive reads them) or a database URL, and a store URI.
Passwords never pass through here: libpq reads ``PGPASSWORD`` or ``~/.pgpass`` itself.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigurationError

DEFAULT_SCHEMA = "vsmd"
TELESCOPES = ("simonyi", "auxtel")


def default_state_dir() -> Path:
    """The local state directory: ``$VSEQ_STATE_DIR`` or ``/var/tmp/vseq-<user>``.

    Not under the home directory: the embedded PostgreSQL server opens the permissions of every
    parent of its data directory, which must not happen to ``/root``.
    """
    explicit = os.environ.get("VSEQ_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return Path("/var/tmp") / f"vseq-{getpass.getuser()}"


def _as_dir_uri(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


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

    @property
    def store_uri(self) -> str:
        return _as_dir_uri(self.archive_uri or (self.state_dir / "archive").as_uri())

    @property
    def index_uri(self) -> str:
        return _as_dir_uri(self.prenight_index_uri or (self.state_dir / "prenight_index").as_uri())

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(
        cls,
        *,
        database: str | None = None,
        host: str | None = None,
        user: str | None = None,
        schema: str | None = None,
        archive_uri: str | None = None,
    ) -> ArchiveSettings:
        """Settings from explicit values, then the environment, then the embedded defaults.

        Environment: ``VSEQ_DATABASE_URL`` or ``VSARCHIVE_PGHOST``/``PGDATABASE``/``PGPORT``/
        ``PGUSER``; ``VSARCHIVE_PGSCHEMA``; ``VSEQ_ARCHIVE_URI``; ``VSEQ_PRENIGHT_INDEX_URI``;
        ``VSEQ_STATE_DIR``.
        """
        env = os.environ
        url = env.get("VSEQ_DATABASE_URL") or None
        host = host or env.get("VSARCHIVE_PGHOST")
        database = database or env.get("VSARCHIVE_PGDATABASE")
        user = user or env.get("VSARCHIVE_PGUSER")
        port = env.get("VSARCHIVE_PGPORT")
        if host or database or user or port:
            url = postgres_url(host=host, port=port, database=database, user=user)
        elif url is not None and "@" in url.split("//", 1)[-1].split("/", 1)[0]:
            userinfo = url.split("//", 1)[-1].split("@", 1)[0]
            if ":" in userinfo:
                raise ConfigurationError(
                    "VSEQ_DATABASE_URL must not carry a password: use PGPASSWORD or ~/.pgpass"
                )
        schema = schema or env.get("VSARCHIVE_PGSCHEMA") or DEFAULT_SCHEMA
        validate_schema_name(schema)
        return cls(
            database_url=url,
            schema=schema,
            archive_uri=archive_uri or env.get("VSEQ_ARCHIVE_URI") or None,
            prenight_index_uri=env.get("VSEQ_PRENIGHT_INDEX_URI") or None,
        )


def postgres_url(
    *, host: str | None, port: str | int | None, database: str | None, user: str | None
) -> str:
    """A psycopg2 SQLAlchemy URL from libpq-style parts (no password: libpq finds it)."""
    if port is not None and not str(port).isdigit():
        raise ConfigurationError(f"VSARCHIVE_PGPORT must be a number, not {port!r}")
    netloc = (f"{user}@" if user else "") + (host or "")
    if port:
        netloc += f":{port}"
    return f"postgresql+psycopg2://{netloc}/{database or ''}"


def validate_schema_name(schema: str) -> str:
    """Schema names are interpolated into DDL, so only plain identifiers are allowed."""
    if not schema.isidentifier() or not schema.isascii() or len(schema) > 63:
        raise ConfigurationError(f"invalid schema name {schema!r}: use letters, digits and _")
    return schema


DEFAULT_SCHEDULER_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"


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

    def variant_list(self) -> list:
        """The :class:`~vseq_resources.simulation.SimulationVariant` objects to run."""
        from .simulation.variants import DEFAULT_VARIANTS, variant_by_name

        if not self.variants:
            return list(DEFAULT_VARIANTS)
        return [variant_by_name(name) for name in self.variants]

    def site_data_path(self, state_dir: Path) -> Path:
        """Where prepared site data are cached: ``site_data_dir``, else ``<state dir>/site_data``."""
        return Path(self.site_data_dir).expanduser() if self.site_data_dir else state_dir / "site_data"
