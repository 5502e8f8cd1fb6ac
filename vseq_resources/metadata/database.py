"""``MetadataDatabase``: the one interface to the metadata database of an archive.

Each concept has its own module, combined here: sequence rows and search (:mod:`.sequences`),
tags and comments (:mod:`.annotations`), files and checksums (:mod:`.files`), nightly statistics
(:mod:`.nightly_stats`), package environments (:mod:`.conda_envs`) and the simulation questions
readers ask (:mod:`.simulations`), the write lease (:mod:`.write_lease`); connections and
transactions are in :mod:`.access`.

Plain Python values go in and come out (``uuid.UUID``, ``datetime.date``, aware ``datetime``,
``bytes`` for hashes, pandas DataFrames for tables). SQL uses bound parameters only; the table and
column names that have to be spliced into it come from :mod:`.schema`, never from the caller.

Write methods take ``conn=``: given a connection from :meth:`MetadataDatabase.transaction`, they
join that transaction (so the archive can register a sequence, its tags and its files at once, or
not at all); without it, each write commits on its own.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..errors import ConfigurationError
from . import schema as s
from .annotations import Annotations
from .completed import CompletedSequences
from .conda_envs import CondaEnvs
from .connection import describe_location
from .files import Files
from .migrate import current_revision, migrate
from .nightly_stats import NightlyStats
from .sequences import Sequences
from .simulations import Simulations
from .write_lease import WriteLease


class MetadataDatabase(
    Sequences, Annotations, Files, NightlyStats, CondaEnvs, Simulations, CompletedSequences, WriteLease
):
    """The metadata database of one archive: an engine dedicated to one schema.

    The engine's connections are set up for the schema (``search_path``) and UTC when this object
    is made; use :meth:`from_url` to build the engine as well.
    """

    @classmethod
    def from_url(
        cls, url: str | sa.URL, schema: str, connect_timeout: int = 10, *, create: bool = False
    ) -> MetadataDatabase:
        """Connect, check the schema holds an archive, and return the database.

        ``create=True`` migrates (creates, upgrades or adopts) the schema first. Failures raise
        :class:`DatabaseUnavailableError` (host unreachable) or :class:`ConfigurationError` (wrong
        credentials, no such database, schema missing or not migrated), one line each.
        """
        engine = sa.create_engine(url, connect_args={"connect_timeout": connect_timeout}, pool_pre_ping=True)
        database = cls(engine, schema)
        try:
            if create:
                migrate(engine, schema)
            database.check()
        except Exception:
            engine.dispose()
            raise
        return database

    def check(self) -> None:
        """Raise :class:`ConfigurationError` unless the schema holds the archive tables."""
        with self._connect() as conn:
            found = conn.execute(
                sa.select(sa.func.to_regclass(f'"{self.schema}".{s.visitseq.name}'))
            ).scalar()
        if found is None:
            raise ConfigurationError(
                f"schema {self.schema!r} at {describe_location(self.engine.url)} holds no visit sequence "
                "archive: it is missing or not migrated (run the migration)"
            )

    def revision(self) -> str | None:
        """The migration revision of the schema (None: created by the reference, never migrated)."""
        return current_revision(self.engine, self.schema)

    def close(self) -> None:
        self.engine.dispose()
