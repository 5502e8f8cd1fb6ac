"""The metadata database as readers use it: asked first, skipped while it cannot be reached.

Most observatory services can read the store but not the database, so readers answer from the
pre-night index snapshots when the database is *out of reach*: the connection was refused or
timed out, the host name did not resolve, or the server went away during a query
(:class:`~vseq_resources.errors.DatabaseUnavailableError`). Any other failure is a fault of the
configuration or the archive, and raises: refused credentials, a missing database or schema, a
schema not migrated, a privilege the role lacks. Falling back then would serve possibly stale
snapshots while hiding the mistake.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ..errors import DatabaseUnavailableError

if TYPE_CHECKING:
    from ..metadata.database import MetadataDatabase

log = logging.getLogger(__name__)

RETRY_AFTER = 60.0
"""Seconds during which a reader that found the database unreachable does not try it again."""

T = TypeVar("T")


@dataclass
class ReaderDatabase:
    """Connects on first use (``url`` None: no database, snapshots only) with ``connect_timeout``
    seconds to answer; or wraps an open ``MetadataDatabase`` it does not own."""

    url: str | None
    schema: str
    connect_timeout: float
    metadata: MetadataDatabase | None = field(default=None, repr=False)
    owned: bool = True
    _unreachable_since: float | None = field(default=None, repr=False)

    def get(self) -> MetadataDatabase | None:
        """The database, or None when none is configured or it is out of reach.

        Raises `ConfigurationError` (refused credentials, missing schema...) as it comes.
        """
        if self.metadata is not None:
            return self.metadata
        if self.url is None:
            return None
        if self._unreachable_since is not None and time.monotonic() - self._unreachable_since < RETRY_AFTER:
            return None
        from ..metadata.database import MetadataDatabase

        try:
            self.metadata = MetadataDatabase.from_url(
                self.url, self.schema, connect_timeout=max(1, math.ceil(self.connect_timeout))
            )
        except DatabaseUnavailableError as err:
            self._unreachable(err)
            return None
        return self.metadata

    def ask(self, query: Callable[[MetadataDatabase], T]) -> tuple[bool, T | None]:
        """``(True, query(db))`` when the database answered, ``(False, None)`` when out of reach."""
        db = self.get()
        if db is None:
            return False, None
        try:
            return True, query(db)
        except DatabaseUnavailableError as err:  # the server went away during the query
            self._unreachable(err)
            return False, None

    def close(self) -> None:
        if self.metadata is not None and self.owned:
            self.metadata.close()
        self.metadata = None

    def _unreachable(self, err: BaseException) -> None:
        log.warning("metadata database out of reach (%s): reading the pre-night index snapshots", err)
        self._unreachable_since = time.monotonic()
        if self.owned:
            self.close()
