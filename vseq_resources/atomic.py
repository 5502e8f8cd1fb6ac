"""The one way vseq writes a local file: whole or not at all.

Every local file vseq produces (``visits.h5``, opsim sqlite files, downloads, files of a
``file://`` store, index snapshots, cache files) is written under a temporary name beside its
destination and renamed onto it only when complete, so a reader, or a process started after a
crash, sees the old file or the new one, never a partial one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".vseq-partial-"
"""Temporary files start with this: a crash can leave one behind, under a name no reader uses."""


def published_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the process umask.

    ``mkstemp`` makes its files 0600, readable by their owner only; a published file gets the
    permissions any other program of that user would give it (0644 under the usual umask 022, 0640
    under 027). The umask can only be read by setting it: it is set to 077 for that instant, so a
    file another thread creates meanwhile is, if anything, more private.
    """
    mask = os.umask(0o077)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` (created empty, parents too) for the caller to write.

    When the block ends normally the file is flushed to disk, given :func:`published_mode` and
    renamed onto ``path``, replacing any file there. When it raises, the temporary file is removed and
    ``path`` is left as it was. ``suffix`` is the temporary name's extension, for writers that
    look at it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temporary, published_mode())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
