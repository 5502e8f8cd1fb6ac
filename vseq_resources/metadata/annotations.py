"""Tags and comments: what people and pipelines say about a sequence (``tags``, ``comments``).

A sequence that failed one of vseq's integrity checks carries the tag :data:`CHECK_FAILED_TAG`
and a comment per failed check (:meth:`Annotations.mark_check_failed`): that is the one place the
archive records it, and the queries that choose sequences for readers leave such sequences out
(:func:`not_check_failed`, used by the "newest completed sequence of a night" query and the
pre-night simulations of a night). An archive where no check failed answers as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, TEXT
from sqlalchemy.dialects.postgresql import insert as pg_insert

from . import schema as s
from .access import DatabaseAccess
from .values import as_tag, as_text, as_uuid, frame

if TYPE_CHECKING:
    import pandas as pd

UuidLike = uuid.UUID | str
COMMENT_COLUMNS = ("comment_time", "author", "comment")

CHECK_FAILED_TAG = "check_failed"
"""The tag of a sequence that failed an integrity check: it is never chosen for readers again
(remove the tag with ``untag`` once the sequence is repaired and checked)."""


def not_check_failed(visitseq_uuid: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """SQL condition: the sequence ``visitseq_uuid`` does not carry :data:`CHECK_FAILED_TAG`."""
    t = s.tags.alias("failed_check")
    return ~sa.exists().where(t.c.visitseq_uuid == visitseq_uuid, t.c.tag == CHECK_FAILED_TAG)


NOT_CHECK_FAILED_SQL = (
    "NOT EXISTS (SELECT 1 FROM tags AS failed_check WHERE failed_check.visitseq_uuid = m.visitseq_uuid "
    f"AND failed_check.tag = '{CHECK_FAILED_TAG}')"
)
"""The same condition as SQL text, for the simulation queries (sequence alias ``m``)."""


class Annotations(DatabaseAccess):
    """Tags and comments of sequences."""

    def tag(self, visitseq_uuid: UuidLike, *tags: str, conn: sa.Connection | None = None) -> None:
        """Add tags (already present ones are left alone, also when two writers race).

        ``ON CONFLICT`` relies on the unique index of revision 0002; the ``NOT EXISTS`` keeps a
        schema the reference created, not yet migrated, free of duplicates too.
        """
        key = as_uuid(visitseq_uuid)
        wanted = list(dict.fromkeys(as_tag(t) for t in tags))
        if not wanted:
            return
        new = sa.func.unnest(sa.literal(wanted, ARRAY(TEXT))).table_valued("tag").render_derived("new")
        present = s.tags.alias("present")
        rows = sa.select(sa.literal(key, s.tags.c.visitseq_uuid.type), new.c.tag).where(
            ~sa.exists().where(present.c.visitseq_uuid == key, present.c.tag == new.c.tag)
        )
        statement = pg_insert(s.tags).from_select(["visitseq_uuid", "tag"], rows).on_conflict_do_nothing()
        with self._writing(conn) as c:
            self._require(c, key)
            c.execute(statement)

    def untag(self, visitseq_uuid: UuidLike, tag: str, conn: sa.Connection | None = None) -> None:
        """Remove a tag (needs DELETE, which the production ``writer`` role lacks)."""
        with self._writing(conn) as c:
            c.execute(
                sa.delete(s.tags).where(s.tags.c.visitseq_uuid == as_uuid(visitseq_uuid), s.tags.c.tag == tag)
            )

    def is_tagged(self, visitseq_uuid: UuidLike, tag: str) -> bool:
        t = s.tags.c
        query = sa.select(sa.exists().where(t.visitseq_uuid == as_uuid(visitseq_uuid), t.tag == tag))
        with self._connect() as conn:
            return bool(conn.execute(query).scalar())

    def get_tags(self, visitseq_uuid: UuidLike) -> list[str]:
        """The sequence's tags, sorted."""
        t = s.tags.c
        query = sa.select(t.tag).distinct().where(t.visitseq_uuid == as_uuid(visitseq_uuid)).order_by(t.tag)
        with self._connect() as conn:
            return list(conn.execute(query).scalars())

    def comment(
        self, visitseq_uuid: UuidLike, text: str, author: str | None = None, conn: sa.Connection | None = None
    ) -> None:
        key = as_uuid(visitseq_uuid)
        row = {"visitseq_uuid": key, "comment": as_text(text, "comment"), "author": author}
        with self._writing(conn) as c:
            self._require(c, key)
            c.execute(sa.insert(s.comments).values(row))

    def mark_check_failed(self, visitseq_uuid: UuidLike, failures: Mapping[str, str], author: str) -> None:
        """Record that the sequence failed checks (check name -> what failed), in one transaction:
        the tag :data:`CHECK_FAILED_TAG` and a comment per check."""
        with self.transaction() as conn:
            self.tag(visitseq_uuid, CHECK_FAILED_TAG, conn=conn)
            for check, description in failures.items():
                self.comment(visitseq_uuid, f"check {check} failed: {description}", author, conn=conn)

    def get_comments(self, visitseq_uuid: UuidLike) -> pd.DataFrame:
        """Columns comment_time, author, comment; oldest first."""
        c = s.comments.c
        query = (
            sa.select(*(c[name] for name in COMMENT_COLUMNS))
            .where(c.visitseq_uuid == as_uuid(visitseq_uuid))
            .order_by(c.comment_time)
        )
        with self._connect() as conn:
            return frame(list(conn.execute(query)), COMMENT_COLUMNS)
