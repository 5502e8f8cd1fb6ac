"""Files of a sequence besides its visits (``files``) and the checksums of every stored file
(``file_checksums``, vseq's own: the reference records none for ``visits.h5``)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BYTEA
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..errors import InvalidInputError, NotFoundError
from . import schema as s
from .access import DatabaseAccess
from .values import as_sha256, as_uuid, frame, plain

if TYPE_CHECKING:
    import pandas as pd

UuidLike = uuid.UUID | str
VISITS_FILE_TYPE = "visits"
FILE_REFERENCE_COLUMNS = ("visitseq_uuid", "file_type", "file_url", "file_sha256", "size_bytes")


class Files(DatabaseAccess):
    """Registered files and recorded checksums."""

    def register_file(
        self,
        visitseq_uuid: UuidLike,
        file_type: str,
        sha256: bytes | str,
        url: str | None,
        update: bool = False,
        conn: sa.Connection | None = None,
    ) -> None:
        """Record a file of a sequence; an existing one of that type is replaced only with ``update``."""
        key = as_uuid(visitseq_uuid)
        file_type = _file_type(file_type)
        row = {
            "visitseq_uuid": key,
            "file_type": file_type,
            "file_sha256": as_sha256(sha256),
            "file_url": url,
        }
        statement = pg_insert(s.files).values(row)
        if update:
            statement = statement.on_conflict_do_update(
                index_elements=["visitseq_uuid", "file_type"],
                set_={"file_sha256": statement.excluded.file_sha256, "file_url": statement.excluded.file_url},
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["visitseq_uuid", "file_type"])
        with self._writing(conn) as c:
            self._require(c, key)
            added = c.execute(statement.returning(s.files.c.file_type)).first()
        if added is None:
            raise InvalidInputError(
                f"visit sequence {key} already has a {file_type!r} file; pass update=True to replace it"
            )

    def get_file(self, visitseq_uuid: UuidLike, file_type: str) -> tuple[str | None, bytes]:
        """``(url, sha256)`` of the sequence's file of that type."""
        files = self.get_files(visitseq_uuid)
        if _file_type(file_type) not in files:
            raise NotFoundError(f"visit sequence {visitseq_uuid} has no {file_type!r} file")
        return files[file_type]

    def get_files(self, visitseq_uuid: UuidLike) -> dict[str, tuple[str | None, bytes]]:
        """Every registered file of the sequence: file type -> ``(url, sha256)``."""
        f = s.files.c
        query = (
            sa.select(f.file_type, f.file_url, f.file_sha256)
            .where(f.visitseq_uuid == as_uuid(visitseq_uuid))
            .order_by(f.file_type)
        )
        with self._connect() as conn:
            return {t: (u, plain(h)) for t, u, h in conn.execute(query)}

    def record_checksum(
        self,
        visitseq_uuid: UuidLike,
        url: str,
        sha256: bytes | str,
        size: int,
        conn: sa.Connection | None = None,
    ) -> None:
        """Record the SHA-256 and size of a stored file (replacing what was known of that URL)."""
        row = {
            "file_url": url,
            "visitseq_uuid": as_uuid(visitseq_uuid),
            "file_sha256": as_sha256(sha256),
            "size_bytes": int(size),
        }
        statement = pg_insert(s.file_checksums).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["file_url"],
            set_={
                "visitseq_uuid": statement.excluded.visitseq_uuid,
                "file_sha256": statement.excluded.file_sha256,
                "size_bytes": statement.excluded.size_bytes,
                "recorded_time": sa.func.now(),
            },
        )
        with self._writing(conn) as c:
            c.execute(statement)

    def get_checksum(self, url: str) -> bytes | None:
        """The recorded SHA-256 of a stored file, or None when vseq did not store it (or has not
        adopted the schema yet: a schema the reference created records no checksums)."""
        if not self.has_table("file_checksums"):
            return None
        c = s.file_checksums.c
        with self._connect() as conn:
            found = conn.execute(sa.select(c.file_sha256).where(c.file_url == url)).first()
        return plain(found[0]) if found else None

    def get_visits_file(self, visitseq_uuid: UuidLike) -> tuple[str | None, bytes | None]:
        """``(visitseq_url, recorded SHA-256)`` of a sequence's visits, in one query: what the
        verified read path needs (either may be None: visits not stored, no checksum recorded)."""
        key = as_uuid(visitseq_uuid)
        v, c = s.visitseq, self._checksums()
        query = (
            sa.select(v.c.visitseq_url, c.c.file_sha256)
            .select_from(v.outerjoin(c, c.c.file_url == v.c.visitseq_url))
            .where(v.c.visitseq_uuid == key)
        )
        with self._connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"no visit sequence {key} in schema {self.schema!r}")
        return row[0], plain(row[1])

    def file_references(self) -> pd.DataFrame:
        """Every file URL a metadata row refers to, with its recorded checksum when known.

        Columns: visitseq_uuid, file_type (``visits`` for ``visitseq_url``), file_url,
        file_sha256 (None when unknown), size_bytes. Used to verify the store against the rows.
        """
        v, f, c = s.visitseq.c, s.files.c, self._checksums()
        visits = sa.select(
            v.visitseq_uuid,
            sa.literal(VISITS_FILE_TYPE).label("file_type"),
            v.visitseq_url.label("file_url"),
            sa.null().cast(BYTEA).label("file_sha256"),
        ).where(v.visitseq_url.is_not(None))
        others = sa.select(f.visitseq_uuid, f.file_type, f.file_url, f.file_sha256).where(
            f.file_url.is_not(None)
        )
        r = sa.union_all(visits, others).subquery("r")
        query = (
            sa.select(
                r.c.visitseq_uuid,
                r.c.file_type,
                r.c.file_url,
                sa.func.coalesce(r.c.file_sha256, c.c.file_sha256),
                c.c.size_bytes,
            )
            .select_from(r.outerjoin(c, c.c.file_url == r.c.file_url))
            .order_by(r.c.visitseq_uuid, r.c.file_type)
        )
        with self._connect() as conn:
            return frame(list(conn.execute(query)), FILE_REFERENCE_COLUMNS)

    def _checksums(self) -> sa.FromClause:
        """``file_checksums``, or an empty stand-in before vseq adopts a reference schema."""
        if self.has_table("file_checksums"):
            return s.file_checksums
        c = s.file_checksums.c
        columns = [
            sa.null().cast(col.type).label(col.name) for col in (c.file_url, c.file_sha256, c.size_bytes)
        ]
        return sa.select(*columns).where(sa.false()).subquery("file_checksums")


def _file_type(file_type: str) -> str:
    if not isinstance(file_type, str) or not file_type:
        raise InvalidInputError(f"a file type is a non-empty string, not {file_type!r}")
    if file_type == VISITS_FILE_TYPE:
        raise InvalidInputError("the visits file is the sequence's visitseq_url, not a registered file")
    return file_type
