"""The data store: every file of a visit sequence, on any ``lsst.resources`` URI.

Layout (section 1 of the archive interface, shared with ``rubin_sim.sim_archive``)::

    ${base}/${telescope}/${YYYY-MM-DD creation dayobs}/${uuid}/${filename}

Every write is checked: the SHA-256 of the source is computed while it is read, and the stored
object is read back and hashed before the write counts as done, so a recorded checksum always
describes bytes that really are in the store. Local (``file://``) writes go through a temporary
file and a rename, and S3 writes become visible only when the upload completes, so a failed write
never leaves a truncated file under the final name. Transfers stream in chunks: large files never
sit in memory whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import os
import uuid as uuid_lib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from .atomic import atomic_output
from .config import TELESCOPES
from .dayobs import DayobsError, parse_dayobs
from .errors import IntegrityError, InvalidInputError, StoreError
from .faults import fault_point
from .storage_errors import public_url, store_errors
from .tempfiles import local_temporary, space_checked

if TYPE_CHECKING:
    # Imported where used: pandas only when visits are written, lsst.resources (and numpy,
    # through lsst.utils) when a store is opened, so metadata-only commands never load them.
    import pandas as pd
    from lsst.resources import ResourcePath

log = logging.getLogger(__name__)

CHUNK_SIZE = 8 * 1024 * 1024
MAX_NAME_BYTES = 255
STAGING_MARK = ".update-"
"""Marks the name of an update's new content until it is committed (`ArchiveStore.staging_path`)."""

Progress = Callable[[int, int], None]
"""Called with (bytes done, total bytes) as a transfer advances."""


@dataclass(frozen=True)
class StoredFile:
    """A file as it is in the store: where, its SHA-256 digest, and its size in bytes."""

    url: str
    sha256: bytes
    size: int


class StoreEntry(NamedTuple):
    """One file found by `ArchiveStore.walk_files`, with its place in the layout."""

    url: str
    telescope: str
    dayobs: dt.date
    uuid: uuid_lib.UUID
    name: str


def validate_telescope(telescope: str) -> str:
    if telescope not in TELESCOPES:
        raise InvalidInputError(f"invalid telescope {telescope!r}: expected one of {', '.join(TELESCOPES)}")
    return telescope


def validate_uuid(value: str | uuid_lib.UUID) -> uuid_lib.UUID:
    if isinstance(value, uuid_lib.UUID):
        return value
    try:
        return uuid_lib.UUID(str(value))
    except ValueError:
        raise InvalidInputError(f"invalid visit sequence UUID {value!r}") from None


def validate_file_name(name: str) -> str:
    """A file name must stay one path component inside its sequence directory.

    Separators and ``..`` could escape the directory; ``#`` would be read as a URL fragment;
    control characters make names that cannot be typed or printed safely.
    """
    if not isinstance(name, str) or not name:
        raise InvalidInputError("invalid file name: it is empty")
    problems = [
        ("/" in name or "\\" in name, "contains a path separator"),
        (".." in name or name == ".", "contains '..' or is '.'"),
        ("#" in name, "contains '#'"),
        (any(ord(c) < 32 or ord(c) == 127 for c in name), "contains control characters"),
        (len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES, f"is over {MAX_NAME_BYTES} bytes"),
    ]
    for failed, why in problems:
        if failed:
            raise InvalidInputError(f"invalid file name {name!r}: it {why}")
    return name


def check_base_uri(uri: str) -> str:
    """Refuse a store base that could put files somewhere other than where it seems to say.

    A relative path would depend on the working directory of whichever process opens the
    archive, and a ``..`` (or ``.``) segment names a different directory than the text shows
    (``/data/vseq/../escape/``): files would be written and registered outside the intended
    store. An absolute path, a ``file://`` URI or any other URI without such segments is kept.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInputError(
            "the archive store URI is empty: give an absolute path, file:///... or s3://..."
        )
    scheme, sep, rest = uri.partition("://")
    if not sep and not uri.startswith("/"):
        raise InvalidInputError(
            f"the archive store URI {public_url(uri)!r} is a relative path: give an absolute path, "
            "file:///... or s3://..."
        )
    path = rest.partition("/")[2] if sep else uri
    path = path.split("?", 1)[0].split("#", 1)[0]
    if any(segment in (".", "..") for segment in path.split("/")):
        raise InvalidInputError(
            f"the archive store URI {public_url(uri)!r} contains a '.' or '..' segment: give the "
            "normalised path (the store's files must stay under the base it names)"
        )
    if scheme == "file" or not sep:
        local = Path("/" + path.lstrip("/") if sep else path)
        system = _system_directory(local)
        if system is not None:
            raise InvalidInputError(
                f"the archive store URI {public_url(uri)!r} is {'' if system == '/' else 'in '}the system "
                f"directory {system}: give a directory of its own for the store (e.g. /data/vseq/)"
            )
    return uri


SYSTEM_DIRECTORIES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
    "/sys", "/usr", "/var/log", "/var/run",
)  # fmt: skip
"""Directories no store may be in (nor at ``/`` itself): a store there would write and register
files among the system's own (``file:///etc/`` was stopped only by file permissions)."""


def _system_directory(path: Path) -> str | None:
    """The system directory ``path`` is at or under (symbolic links resolved), or None."""
    import os

    candidates = [os.path.normpath(str(path))]
    with contextlib.suppress(OSError):
        candidates.append(os.path.realpath(path))
    for candidate in candidates:
        if candidate == "/":
            return "/"
        for system in SYSTEM_DIRECTORIES:
            if candidate == system or candidate.startswith(system + "/"):
                return system
    return None


def _dayobs(value: str | int | dt.date) -> dt.date:
    try:
        return parse_dayobs(value)
    except DayobsError as err:
        raise InvalidInputError(str(err)) from None


class _Interrupted(Exception):
    """Carries a non-Exception (KeyboardInterrupt, ...) out of a transfer thread."""


class _HashingReader(io.RawIOBase):
    """Reads a stream once, in order, hashing and counting what passes through.

    It says it cannot seek, so boto3 buffers each part itself (and retries from that buffer)
    instead of re-reading the source, which would hash some bytes twice.
    """

    def __init__(self, raw: IO[bytes], total: int, progress: Progress | None) -> None:
        self._raw = raw
        self.total = total
        self.done = 0
        self.hash = hashlib.sha256()
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        if 0 < self.done < self.total:
            fault_point("during_upload")  # tests only: see vseq_resources.faults
        data = self._raw.read(size)
        self.hash.update(data)
        self.done += len(data)
        if self._progress is not None and data:
            try:
                self._progress(self.done, self.total)
            except Exception:
                raise
            except BaseException as err:
                # boto3 reads in a worker thread: a KeyboardInterrupt there would leave the
                # upload waiting forever, so carry it out as an ordinary exception.
                raise _Interrupted() from err
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def _open_source(source: Path | bytes) -> Iterator[tuple[IO[bytes], int]]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        yield io.BytesIO(data), len(data)
        return
    path = Path(source)
    try:
        handle = path.open("rb")
    except OSError as err:
        raise InvalidInputError(f"cannot read {path}: {err.strerror or err}") from None
    with handle:
        yield handle, os.fstat(handle.fileno()).st_size


def sha256_of_path(path: Path) -> bytes:
    """SHA-256 of a local file, read in chunks (the digest every stored file is checked by)."""
    return _hash_source(Path(path))[0]


def _hash_source(source: Path | bytes) -> tuple[bytes, int]:
    with _open_source(source) as (handle, total):
        reader = _HashingReader(handle, total, None)
        while reader.read(CHUNK_SIZE):
            pass
        return reader.hash.digest(), reader.done


def _resource(uri: str, **options: Any) -> ResourcePath:
    """``ResourcePath(uri, **options)``; lsst.resources is imported on first use only."""
    from lsst.resources import ResourcePath

    return ResourcePath(uri, **options)


def _s3_location(target: ResourcePath) -> tuple[str, str]:
    """Bucket and key of an S3 URI; a tenant bucket (``tenant:bucket``) is kept whole."""
    return target.netloc.rpartition("@")[2], target.relativeToPathRoot


class ArchiveStore:
    """The files of visit sequences under one base URI (``file://``, ``s3://``, ...)."""

    def __init__(self, base_uri: str) -> None:
        self.base = _resource(check_base_uri(base_uri), forceDirectory=True)

    def __repr__(self) -> str:
        return f"ArchiveStore({public_url(str(self.base))!r})"

    def sequence_dir(
        self, telescope: str, creation_dayobs: str | int | dt.date, uuid: str | uuid_lib.UUID
    ) -> ResourcePath:
        """The directory holding every file of one visit sequence."""
        return (
            self.base.join(validate_telescope(telescope), forceDirectory=True)
            .join(_dayobs(creation_dayobs).isoformat(), forceDirectory=True)
            .join(str(validate_uuid(uuid)), forceDirectory=True)
        )

    def file_path(
        self, telescope: str, creation_dayobs: str | int | dt.date, uuid: str | uuid_lib.UUID, name: str
    ) -> ResourcePath:
        """Where a named file of a visit sequence lives."""
        return self.sequence_dir(telescope, creation_dayobs, uuid).join(validate_file_name(name))

    def put_file(
        self,
        telescope: str,
        creation_dayobs: str | int | dt.date,
        uuid: str | uuid_lib.UUID,
        source: Path | bytes,
        name: str,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> StoredFile:
        """Store ``source`` (a local file or bytes) as ``name`` and check what was stored.

        Storing the same content again is a no-op; different content under an existing name is
        refused unless ``overwrite``. Raises `IntegrityError` (after removing what it wrote) when
        the stored object does not read back with the source's checksum.
        """
        target = self.file_path(telescope, creation_dayobs, uuid, name)
        url = str(target)
        fault_point("before_upload")  # tests only: see vseq_resources.faults
        with store_errors("store", url):
            if target.exists():
                digest, size = _hash_source(source)
                if self.sha256_of(url) == digest:
                    log.debug("%s already holds this content", url)
                    return StoredFile(url, digest, size)
                if not overwrite:
                    raise StoreError(f"{public_url(url)} already exists with different content")
            digest, size = self._write(source, target, progress)
            stored = self.sha256_of(url)
            if stored != digest:
                self.delete(url)
                raise IntegrityError(
                    f"{public_url(url)} read back with SHA-256 {stored.hex()}, expected {digest.hex()}"
                )
        return StoredFile(url, digest, size)

    def put_visits(
        self,
        telescope: str,
        creation_dayobs: str | int | dt.date,
        uuid: str | uuid_lib.UUID,
        observations: pd.DataFrame,
        extra_tables: dict[str, pd.DataFrame] | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> StoredFile:
        """Write the visits (and any extra tables) as ``visits.h5`` and store it."""
        from .visits import VISITS_FILE_NAME, write_visits_h5

        with local_temporary("visits") as tmp:
            local = tmp / VISITS_FILE_NAME
            with space_checked(tmp, f"the {VISITS_FILE_NAME} to store"):
                write_visits_h5(local, observations, extra_tables)
            return self.put_file(
                telescope,
                creation_dayobs,
                uuid,
                local,
                VISITS_FILE_NAME,
                overwrite=overwrite,
                progress=progress,
            )

    def _write(
        self, source: Path | bytes, target: ResourcePath, progress: Progress | None
    ) -> tuple[bytes, int]:
        """Copy ``source`` to ``target`` so that it appears whole or not at all."""
        with _open_source(source) as (handle, total):
            reader = _HashingReader(handle, total, progress)
            try:
                if target.scheme == "file":
                    _write_local_atomically(reader, Path(target.ospath))
                elif target.scheme == "s3":
                    bucket, key = _s3_location(target)
                    # In the calling thread: s3transfer's worker threads can hang for good when
                    # the stream they read raises (boto/boto3#4148); here the error propagates.
                    from boto3.s3.transfer import TransferConfig

                    serial = TransferConfig(use_threads=False)
                    target.client.upload_fileobj(reader, bucket, key, Config=serial)
                else:
                    target.write(reader.read(), overwrite=True)
            except _Interrupted as err:
                raise err.__cause__ from None
            return reader.hash.digest(), reader.done

    def sha256_of(self, url: str) -> bytes:
        """SHA-256 digest of a stored object, read in chunks."""
        return self.stored_file(url).sha256

    def stored_file(self, url: str) -> StoredFile:
        """A stored object as it is now: its SHA-256 digest and size, read in chunks."""
        digest = hashlib.sha256()
        size = 0
        with store_errors("read", url), _resource(url).open("rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
        return StoredFile(url, digest.digest(), size)

    def read_bytes(self, url: str) -> bytes:
        """The whole content of an object (for small files: metadata, indexes)."""
        with store_errors("read", url):
            return _resource(url).read()

    def get_file(
        self,
        url: str,
        destination: Path,
        progress: Progress | None = None,
        expected_sha256: bytes | None = None,
    ) -> bytes:
        """Download ``url`` to the local ``destination`` and return its SHA-256 digest.

        The bytes go to a temporary file beside the destination, renamed into place only when
        complete (and, with ``expected_sha256``, only when they match: else `IntegrityError`).
        """
        return download(url, destination, progress, expected_sha256)

    @contextlib.contextmanager
    def local_copy(self, url: str) -> Iterator[Path]:
        """A local path holding the object's content (a temporary download for remote stores)."""
        with contextlib.ExitStack() as stack:
            with store_errors("download", url):
                resource = stack.enter_context(_resource(url).as_local())
            yield Path(resource.ospath)

    def delete(self, url: str) -> None:
        """Remove an object of this store; a missing object is fine (rollback may repeat)."""
        target = _resource(url)
        if target.relative_to(self.base) is None:
            raise InvalidInputError(f"{public_url(url)} is not inside the store {public_url(str(self.base))}")
        with store_errors("delete", url):
            try:
                target.remove()
            except FileNotFoundError:
                return
            if target.scheme == "file":
                _remove_empty_dirs(Path(target.ospath).parent, stop=Path(self.base.ospath))

    def staging_path(self, target: str) -> ResourcePath:
        """A fresh name beside ``target`` for new content not yet committed (an update).

        ``<name>.update-<random hex>`` in the same sequence directory: the object stays inside
        the layout, so a writer killed before it moves the content into place leaves an orphan
        that ``verify`` reports (and ``--repair`` removes), never a change to the committed file.
        """
        resource = _resource(target)
        return resource.dirname().join(f"{resource.basename()}{STAGING_MARK}{uuid_lib.uuid4().hex[:16]}")

    def move(self, source_url: str, target_url: str) -> None:
        """Put the object at ``source_url`` in place of ``target_url`` (replacing it), then
        remove the source: a rename on a local store, a server-side copy and a delete on S3.
        Readers of ``target_url`` see the old object or the new one, never a mix."""
        source, target = _resource(source_url), _resource(target_url)
        with store_errors("move into place", target_url):
            if source.scheme == "file" and target.scheme == "file":
                os.replace(source.ospath, target.ospath)
                _fsync_directory(Path(target.ospath).parent)
            elif source.scheme == "s3" and target.scheme == "s3":
                from boto3.s3.transfer import TransferConfig

                bucket, key = _s3_location(source)
                target_bucket, target_key = _s3_location(target)
                target.client.copy(
                    {"Bucket": bucket, "Key": key},
                    target_bucket,
                    target_key,
                    Config=TransferConfig(use_threads=False),
                )
                source.client.delete_object(Bucket=bucket, Key=key)
            else:
                target.transfer_from(source, transfer="move", overwrite=True)

    def exists(self, url: str) -> bool:
        with store_errors("check", url):
            return _resource(url).exists()

    def walk_files(self) -> Iterator[StoreEntry]:
        """Every file laid out as ``telescope/dayobs/uuid/name`` under the base.

        Objects elsewhere (wrong depth, unknown telescope, bad date or UUID) are logged and
        skipped: they are not visit sequence files.
        """
        with store_errors("list", str(self.base)):
            for directory, _, files in self.base.walk():
                relative = directory.relative_to(self.base) or ""
                parts = [p for p in relative.split("/") if p]
                for name in files:
                    if not name or name.endswith("/"):
                        continue  # a directory marker some object stores list: not a file
                    url = str(directory.join(name))
                    entry = _parse_entry(url, parts, name)
                    if entry is None:
                        log.info("not a visit sequence file, skipped: %s", public_url(url))
                    else:
                        yield entry


def download(
    url: str,
    destination: Path,
    progress: Progress | None = None,
    expected_sha256: bytes | None = None,
) -> bytes:
    """Copy the object at ``url`` to the local ``destination``, hashing it; return its SHA-256.

    The bytes go to a temporary file beside the destination, renamed into place only when
    complete and, with ``expected_sha256``, only when they match (else `IntegrityError`, and
    nothing is left at ``destination``). The digest describes exactly the bytes written, so a
    file read from ``destination`` afterwards is the file that was checked, even if the stored
    object changes meanwhile.
    """
    destination = Path(destination)
    with store_errors("download", url):
        source = _resource(url)
        total = source.size()
        digest = hashlib.sha256()
        done = 0
        with atomic_output(destination) as temporary:
            with temporary.open("wb") as out, source.open("rb") as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            if expected_sha256 is not None and digest.digest() != expected_sha256:
                raise IntegrityError(
                    f"{public_url(url)} has SHA-256 {digest.hexdigest()}, expected {expected_sha256.hex()}"
                )
    return digest.digest()


class UnverifiedFileWarning(UserWarning):
    """A stored file was read although no SHA-256 is recorded for it (written by production).

    Turn it into an error to refuse such files: ``warnings.simplefilter("error",
    UnverifiedFileWarning)``, ``-W error::vseq_resources.store.UnverifiedFileWarning``, or
    ``require_checksum=True`` where a reader offers it.
    """


class UnverifiedFileError(IntegrityError):
    """A stored file has no recorded SHA-256 and the caller asked for verified files only."""


@contextlib.contextmanager
def verified_local_copy(
    url: str,
    expected_sha256: bytes | None,
    *,
    what: str,
    require_checksum: bool = False,
    why_unverified: str | None = None,
    progress: Progress | None = None,
) -> Iterator[Path]:
    """A private local copy of a stored file whose bytes match ``expected_sha256``.

    The copy is hashed while it is written and handed out only when it matches, so a caller
    parsing it (PyTables unpickles stored attributes: the checksum is the only guard against a
    file changed in the store) parses exactly the bytes that were checked. A mismatch raises
    `IntegrityError` naming ``what`` (e.g. "the visits of sequence <uuid>"). With no recorded
    checksum (``expected_sha256`` None: a file production wrote) the copy is handed out with an
    `UnverifiedFileWarning`, or refused with `UnverifiedFileError` when ``require_checksum``
    (``why_unverified`` says why there is no checksum, when it is not simply unrecorded).
    The copy is removed afterwards; ``progress(done, total)`` follows the download.
    """
    public = public_url(url)
    if expected_sha256 is None:
        why = why_unverified or (
            "no SHA-256 is recorded for it (`vseqarchive verify --repair` records the checksum of a "
            "file in a store you trust)"
        )
        if require_checksum:
            raise UnverifiedFileError(f"refusing to read {what} ({public}) unverified: {why}")
        warnings.warn(
            f"reading {what} ({public}) without verifying its bytes: {why}",
            UnverifiedFileWarning,
            stacklevel=3,
        )
    with local_temporary("read") as tmp:
        # Named as the stored file (``visits.h5``), as production names its temporary copy: the
        # first line ``get-file UUID visits X.db`` prints then reads as production's.
        local = tmp / (url.rstrip("/").rsplit("/", 1)[-1] or "verified-copy")
        with space_checked(tmp, f"a private copy of {what} ({public})"):
            actual = download(url, local, progress)
        if expected_sha256 is not None and actual != bytes(expected_sha256):
            raise IntegrityError(
                f"refusing to read {what}: {public} has SHA-256 {actual.hex()}, recorded "
                f"{bytes(expected_sha256).hex()}; the stored file was changed or damaged "
                "(`vseqarchive verify` lists such files)"
            )
        yield local


def _parse_entry(url: str, parts: list[str], name: str) -> StoreEntry | None:
    if len(parts) != 3 or parts[0] not in TELESCOPES:
        return None
    try:
        dayobs = dt.date.fromisoformat(parts[1])
        sequence = uuid_lib.UUID(parts[2])
    except ValueError:
        return None
    if dayobs.isoformat() != parts[1] or str(sequence) != parts[2]:
        return None
    return StoreEntry(url, parts[0], dayobs, sequence, name)


def _write_local_atomically(reader: _HashingReader, path: Path) -> None:
    with atomic_output(path) as temporary, temporary.open("wb") as out:
        while chunk := reader.read(CHUNK_SIZE):
            out.write(chunk)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_empty_dirs(directory: Path, stop: Path) -> None:
    """Remove now-empty sequence directories up to (not including) the store base."""
    stop = stop.resolve()
    directory = directory.resolve()
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
