"""vseq's local temporary directories: named so that a killed process's leftovers can be found.

Every temporary directory vseq makes in the local temporary directory (``TMPDIR``, else
``/tmp``) is ``vseq-tmp.<host>.<pid>.<purpose>.<random>``: a ``visits.h5`` written before it is
stored, a private verified copy being read, an opsim database being converted. A process killed
with ``SIGKILL`` cannot remove its directory (one killed while storing a large simulation left
70 MB), so `leftover_temporaries` finds the directories of this host whose process no longer
runs; ``vseqarchive verify`` lists them (``TEMP``) and ``verify --repair`` removes them. A
directory whose process still runs is never touched (nor one of another host, in a ``TMPDIR``
shared between hosts).

Writing there can also fail because the file system is full: `local_temporary` turns that (an
``ENOSPC`` from Python, or whatever HDF5 makes of it) into one `TemporarySpaceError` line naming
the directory and the fix, instead of a back trace.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError

PREFIX = "vseq-tmp."
LOW_SPACE_BYTES = 1 << 20
"""A write that fails while less than this is free where it writes is taken as a full disk."""

_NAME = re.compile(r"^vseq-tmp\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.(?P<purpose>[a-z0-9-]+)\.")


class TemporarySpaceError(ConfigurationError, OSError):
    """The local temporary directory (``TMPDIR``) has no room for a file vseq writes there
    (``errno`` ENOSPC; the message is one line, without the HDF5 back trace of the cause)."""

    def __str__(self) -> str:
        return str(self.strerror)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "host"


def temporary_root() -> Path:
    """The local temporary directory: ``TMPDIR`` (or ``TEMP``, ``TMP``), else ``/tmp``."""
    return Path(tempfile.gettempdir())


def _says_full(err: BaseException) -> bool:
    """Whether ``err``, or an error it carries, says the disk is full (``ENOSPC``, a quota)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(current) or "Disk quota exceeded" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _low_space(where: Path) -> bool:
    try:
        return shutil.disk_usage(where).free < LOW_SPACE_BYTES
    except OSError:
        return False


@contextlib.contextmanager
def local_temporary(purpose: str) -> Iterator[Path]:
    """A private temporary directory, removed afterwards, named
    ``vseq-tmp.<host>.<pid>.<purpose>.<random>`` (see the module docstring). Wrap the writes into
    it in `space_checked`."""
    root = temporary_root()
    prefix = f"{PREFIX}{_host()}.{os.getpid()}.{purpose}."
    try:
        handle = tempfile.TemporaryDirectory(prefix=prefix, dir=root)
    except OSError as err:
        if _says_full(err):
            raise _space_error(root, f"a {purpose} directory", err) from None
        raise
    with handle as name:
        yield Path(name)


@contextlib.contextmanager
def space_checked(directory: Path, what: str) -> Iterator[None]:
    """Turn a failure to write ``what`` into ``directory`` because its file system is full into
    one `TemporarySpaceError` line naming the directory and ``TMPDIR``.

    A full disk is recognised by ``ENOSPC`` anywhere in the error's chain, or, for PyTables
    errors (HDF5 reports a full disk as a failed flush or as a node missing afterwards), by less
    than `LOW_SPACE_BYTES` free in ``directory`` once the write failed. Other errors pass
    unchanged.
    """
    try:
        yield
    except TemporarySpaceError:
        raise
    except Exception as err:
        from_hdf5 = type(err).__module__.split(".")[0] == "tables"
        if _says_full(err) or (from_hdf5 and _low_space(directory)):
            raise _space_error(directory.parent, what, err) from None  # (HDF5's trace: 70 lines)
        raise


def _space_error(root: Path, what: str, err: BaseException) -> TemporarySpaceError:
    free = "?"
    with contextlib.suppress(OSError):
        free = f"{shutil.disk_usage(root).free / 2**20:.1f} MiB"
    return TemporarySpaceError(
        errno.ENOSPC,
        f"no space left in the temporary directory {root} ({free} free) for {what}: free space there "
        "or set TMPDIR to a directory with room",
    )


@dataclass(frozen=True)
class LeftoverTemporary:
    """A temporary directory of a vseq process of this host that no longer runs."""

    path: Path
    pid: int
    purpose: str
    size: int

    def line(self) -> str:
        return (
            f"TEMP     {self.path}: {self.size / 2**20:.1f} MiB left by vseq process {self.pid} "
            f"({self.purpose}), which no longer runs"
        )


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _size(path: Path) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def leftover_temporaries(root: Path | None = None) -> list[LeftoverTemporary]:
    """vseq temporary directories in ``root`` (default: `temporary_root`) owned by this user,
    made on this host by a process that no longer runs."""
    root = temporary_root() if root is None else Path(root)
    host, uid = _host(), os.getuid()
    found = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or match["host"] != host:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _running(pid):
            continue
        path = Path(entry.path)
        found.append(LeftoverTemporary(path, pid, match["purpose"], _size(path)))
    return sorted(found, key=lambda t: t.path)


def remove_temporary(leftover: LeftoverTemporary) -> None:
    """Remove a leftover directory (checked again first: its process must still be gone)."""
    if _running(leftover.pid):
        raise ConfigurationError(f"{leftover.path}: process {leftover.pid} runs again; not removed")
    shutil.rmtree(leftover.path)
