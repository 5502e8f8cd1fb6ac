"""A checksum for every stored file, ``visits.h5`` included.

Additive: a new table that no reader of the reference schema knows about. ``files`` keeps its
meaning (side files, never the visits); ``file_checksums`` maps each stored URL to its SHA-256
and size, so reads and ``vseqarchive verify`` can check every file the archive wrote.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE file_checksums ("
        " file_url TEXT PRIMARY KEY,"
        " visitseq_uuid UUID NOT NULL,"
        " file_sha256 BYTEA NOT NULL,"
        " size_bytes BIGINT NOT NULL,"
        " recorded_time TIMESTAMPTZ DEFAULT now())"
    )
    op.execute("CREATE INDEX file_checksums_visitseq_idx ON file_checksums (visitseq_uuid)")


def downgrade() -> None:
    op.execute("DROP TABLE file_checksums")
