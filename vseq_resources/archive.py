"""The Python API of the archive: a metadata database and a data store used as one.

``VisitSequenceArchive`` is what the CLI, the Dagster resources and the readers call. Its one rule
is that the store and the database never disagree in a way a reader can see: a sequence is
recorded by writing and verifying its files first, then inserting every row (sequence, tags,
comments, files, checksums, nightly statistics) in one transaction. When any step fails, the
files this call wrote are removed again; if even that is impossible (the process is killed), they
are files no row refers to, which ``verify`` reports as orphans. A metadata row never points at a
missing or unverified file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import TELESCOPES, ArchiveSettings
from .dayobs import dayobs_of, parse_dayobs
from .errors import InvalidInputError, NotFoundError, StoreError, VseqError
from .faults import fault_point
from .text import check_tag as text_check_tag
from .text import check_text

if TYPE_CHECKING:
    import pandas as pd

    from .metadata.database import MetadataDatabase
    from .store import ArchiveStore, StoredFile

log = logging.getLogger(__name__)

SEQUENCE_TABLES = ("simulations", "completed", "mixedvisitseq")
VISITS_FILE_TYPE = "visits"
OPSIM_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")
MAX_LABEL_LENGTH = 1024
MAX_TAG_LENGTH = 256
MAX_COMMENT_LENGTH = 65536
MIN_REPAIR_GRACE = dt.timedelta(hours=1)
"""The youngest orphan ``verify --repair`` removes while a writer is running (a write lease is
held), whatever grace it is given: a running write's files are young orphans until it commits."""


@dataclass(frozen=True)
class ArchivedSequence:
    """What ``record_sequence`` stored: identity, where the visits are, and what else it wrote."""

    uuid: uuidlib.UUID
    table: str
    telescope: str
    label: str
    creation_time: dt.datetime
    first_day_obs: dt.date | None
    last_day_obs: dt.date | None
    visitseq_sha256: bytes
    visitseq_url: str | None
    n_visits: int
    files: dict[str, str] = field(default_factory=dict)
    created: bool = True

    @property
    def creation_day_obs(self) -> dt.date:
        return dayobs_of(self.creation_time)


@dataclass(frozen=True)
class FileReference:
    """A file a metadata row points at: the visits (``visitseq_url``) or a ``files`` row."""

    uuid: uuidlib.UUID
    file_type: str
    url: str
    sha256: bytes | None


@dataclass
class VerifyReport:
    """What ``verify`` found: every problem of the store against the metadata."""

    store: str
    checked: int = 0
    external: list[FileReference] = field(default_factory=list)
    unchecked: list[FileReference] = field(default_factory=list)
    missing: list[FileReference] = field(default_factory=list)
    corrupt: list[tuple[FileReference, str]] = field(default_factory=list)
    unreadable: list[tuple[FileReference, str]] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    young_orphans: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_removed: list[tuple[str, str]] = field(default_factory=list)
    recorded: list[FileReference] = field(default_factory=list)
    """Visits files without a checksum whose SHA-256 ``repair`` recorded (trust on first use)."""
    unfinished: list[tuple[FileReference, str]] = field(default_factory=list)
    """Committed updates whose new content is still at its staging object (the writer stopped
    between the commit and the move): ``repair`` moves it into place."""
    finished: list[FileReference] = field(default_factory=list)
    """Unfinished updates ``repair`` moved into place."""
    writers_running: bool = False
    """``repair`` found a write in progress, so it kept orphans younger than `MIN_REPAIR_GRACE`."""
    external_checked: list[FileReference] = field(default_factory=list)
    """Files outside this store (``archive-file --archive-base``) whose bytes matched their
    recorded checksum; those that did not are in ``missing``/``corrupt``/``unreadable``, marked
    as outside the store in `lines`."""
    temporaries: list[Any] = field(default_factory=list)
    """Temporary directories of killed vseq processes found in the local ``TMPDIR``
    (`vseq_resources.tempfiles.LeftoverTemporary`); ``repair`` removes them."""
    temporaries_removed: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every referenced file is present and matches, and no orphan is left."""
        leftover = [u for u in self.orphans if u not in self.removed]
        return not (
            self.missing or self.corrupt or self.unreadable or leftover or self.not_removed or self.unfinished
        )

    def _where(self, ref: FileReference) -> str:
        outside = ", outside this store" if any(ref is e for e in self.external) else ""
        return f"({ref.file_type} of {ref.uuid}{outside})"

    def lines(self, verbose: bool = True) -> list[str]:
        out = []
        for ref in self.missing:
            out.append(f"MISSING  {ref.url} {self._where(ref)}: the row refers to no file")
        for ref, why in self.corrupt:
            out.append(f"CORRUPT  {ref.url} {self._where(ref)}: {why}")
        for ref, why in self.unreadable:
            out.append(f"UNREADABLE  {ref.url} {self._where(ref)}: {why}")
        for ref, staging in self.unfinished:
            out.append(
                f"UNFINISHED {ref.url} ({ref.file_type} of {ref.uuid}): the committed update is still at "
                f"{staging} (verify --repair moves it into place)"
            )
        for ref in self.finished:
            out.append(
                f"FINISHED {ref.url} ({ref.file_type} of {ref.uuid}): committed update moved into place"
            )
        if self.writers_running:
            out.append(
                f"WRITING  a write is in progress: orphans younger than {MIN_REPAIR_GRACE} were kept "
                "(they may be its files)"
            )
        for url in self.orphans:
            state = "removed" if url in self.removed else "no row refers to it (verify --repair removes it)"
            out.append(f"ORPHAN   {url}: {state}")
        for url, why in self.not_removed:
            out.append(f"ORPHAN   {url}: could not remove: {why}")
        for ref in self.recorded:
            out.append(
                f"RECORDED {ref.url} ({ref.file_type} of {ref.uuid}): checksum recorded from its bytes"
            )
        if verbose:
            for url in self.young_orphans:
                out.append(f"RECENT   {url}: no row refers to it yet (too recent to call an orphan)")
            for ref in self.unchecked:
                out.append(f"NOSUM    {ref.url} ({ref.file_type} of {ref.uuid}): no checksum recorded")
            for ref in self.external:
                if any(ref is e for e in self.external_checked):
                    state = "checksum matches"
                elif ref.sha256 is None:
                    state = "not checked: no checksum recorded"
                elif not _checkable(ref.url):
                    state = "not checked: vseq reads only file:// and s3:// URLs"
                else:
                    continue  # missing, corrupt or unreadable: listed above
                out.append(f"OUTSIDE  {ref.url} ({ref.file_type} of {ref.uuid}): not in this store, {state}")
        for leftover in self.temporaries:
            removed = " (removed)" if leftover in self.temporaries_removed else ""
            out.append(leftover.line() + (removed or "; verify --repair removes it"))
        if verbose:
            out.append(
                f"{self.checked} files checked in {self.store}: {len(self.missing)} missing, "
                f"{len(self.corrupt)} corrupt, {len(self.unreadable)} unreadable, {len(self.orphans)} orphans"
                f"{f' ({len(self.removed)} removed)' if self.removed else ''}, "
                f"{len(self.unchecked)} without checksum, {len(self.external)} outside the store "
                f"({len(self.external_checked)} checked)"
                + (f", {len(self.temporaries)} leftover temporary directories" if self.temporaries else "")
            )
        return out


def _checkable(url: str) -> bool:
    """Whether ``verify`` reads a file outside its store: local and S3 URLs (never the network at
    large, whose answers could hang or change)."""
    return url.startswith(("file:", "s3:", "/"))


def missing_stats_columns(visits: Any, columns: Iterable[str]) -> list[str]:
    """The requested statistics columns ``visits`` does not have, in order, without repeats."""
    present = set(getattr(visits, "columns", ()))
    return list(dict.fromkeys(c for c in columns if c not in present))


def _some_columns(visits: Any, limit: int = 8) -> str:
    import pandas as pd

    numeric = [
        str(c)
        for c in getattr(visits, "columns", ())
        if pd.api.types.is_numeric_dtype(visits[c]) and not pd.api.types.is_bool_dtype(visits[c])
    ]
    shown = ", ".join(numeric[:limit])
    return f"{shown}{', ...' if len(numeric) > limit else ''}" if numeric else "(no numeric column)"


def _check_text(kind: str, value: object, max_length: int) -> str:
    """Free text goes into bound parameters, so only its shape needs checking: the archive's
    rule for text is in `vseq_resources.text`."""
    return check_text(kind, value, max_length)


def check_tag(tag: object) -> str:
    return text_check_tag(tag, MAX_TAG_LENGTH)


def check_telescope(telescope: object) -> str:
    if telescope not in TELESCOPES:
        raise InvalidInputError(f"unknown telescope {telescope!r}: expected one of {', '.join(TELESCOPES)}")
    return str(telescope)


def check_table(table: object) -> str:
    if table not in SEQUENCE_TABLES:
        raise InvalidInputError(
            f"unknown sequence table {table!r}: expected one of {', '.join(SEQUENCE_TABLES)}"
        )
    return str(table)


def as_uuid(value: object) -> uuidlib.UUID:
    if isinstance(value, uuidlib.UUID):
        return value
    try:
        return uuidlib.UUID(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"invalid UUID {value!r}") from None


class VisitSequenceArchive:
    """Store + metadata database: record, annotate, find and read visit sequences."""

    def __init__(
        self,
        metadata: MetadataDatabase,
        store: ArchiveStore | None,
        settings: ArchiveSettings | None = None,
    ):
        """``store`` None opens ``settings.store_uri`` when the store is first used."""
        if store is None and settings is None:
            raise TypeError("an archive without a store needs the settings naming one")
        self.metadata = metadata
        self._store = store
        self.settings = settings

    @property
    def store(self) -> ArchiveStore:
        """The data store (opened on first use when the archive was opened without it)."""
        if self._store is None:
            from .store import ArchiveStore

            assert self.settings is not None
            self._store = ArchiveStore(self.settings.store_uri)
        return self._store

    @classmethod
    def open(
        cls,
        settings: ArchiveSettings | None = None,
        *,
        migrate: bool | None = None,
        open_store: bool = True,
    ) -> VisitSequenceArchive:
        """Open the archive the settings describe (the environment's, by default).

        The embedded database is migrated on first use so that zero-configuration use just
        works; a configured database is migrated only when asked (``vseqarchive migrate``).
        With ``open_store=False`` only the metadata database is opened now and the store on
        first use: callers that only read or annotate metadata (the CLI's ``is-tagged``, ``tag``,
        ``search``...) then never import ``lsst.resources``.
        """
        from .embedded import embedded_database_url
        from .metadata.database import MetadataDatabase

        settings = settings or ArchiveSettings.from_env()
        url = settings.database_url or embedded_database_url(settings.state_dir)
        create = migrate if migrate is not None else settings.uses_embedded_database
        metadata = MetadataDatabase.from_url(url, settings.schema, create=create)
        archive = cls(metadata, None, settings)
        if open_store:
            archive.store  # noqa: B018 - open it now: a bad store URI fails here, as before
        return archive

    # -- recording -----------------------------------------------------------------------------

    def record_sequence(
        self,
        table: str,
        visits: pd.DataFrame | None,
        *,
        label: str,
        telescope: str,
        first_day_obs: str | int | dt.date | None = None,
        last_day_obs: str | int | dt.date | None = None,
        creation_time: dt.datetime | None = None,
        extra_tables: Mapping[str, pd.DataFrame] | None = None,
        files: Mapping[str, Path | bytes | tuple[str, Path | bytes]] | None = None,
        tags: Iterable[str] = (),
        comments: Iterable[str | tuple[str | None, str]] = (),
        nightly_stats: bool | pd.DataFrame = True,
        store_visits: bool = True,
        visitseq_url: str | None = None,
        **columns: Any,
    ) -> ArchivedSequence:
        """Record one visit sequence with its files and annotations, atomically.

        ``files`` maps a file name (``rewards.h5``, ``scheduler.py``...) to a local path or bytes;
        its file type is the name without extension, unless the value is a ``(file_type, source)``
        pair. ``columns`` are the kind-specific columns
        of ``table`` (``scheduler_version``, ``query``, ``early_parent_uuid``...). With
        ``store_visits=False`` only the metadata is recorded (``visitseq_url`` may then point at
        visits stored elsewhere, or be None).
        """
        from .visits import compute_nightly_stats, validate_observations, visits_content_hash

        table = check_table(table)
        telescope = check_telescope(telescope)
        label = _check_text("label", label, MAX_LABEL_LENGTH)
        tag_list = sorted({check_tag(t) for t in tags})
        comment_list = [self._comment_parts(c) for c in comments]
        file_items = self._check_files(files or {})
        creation_time = self._check_creation_time(creation_time)
        if visits is None:
            if store_visits:
                raise InvalidInputError("no visits given: pass store_visits=False to record metadata only")
            import pandas as pd

            visits = pd.DataFrame({"observationStartMJD": pd.Series([], dtype="float64")})
        validate_observations(visits)
        first, last = self._day_obs_range(visits, first_day_obs, last_day_obs)
        sha256 = visits_content_hash(visits)
        seq_uuid = uuidlib.uuid4()
        creation_day_obs = dayobs_of(creation_time)

        stats_frame = None
        if isinstance(nightly_stats, bool):
            if nightly_stats and len(visits):
                stats_frame = compute_nightly_stats(visits)
        else:
            stats_frame = nightly_stats

        written: list[StoredFile] = []
        with self.metadata.write_lease(), self._rollback_files_on_error(written):
            if store_visits:
                stored = self.store.put_visits(
                    telescope, creation_day_obs, seq_uuid, visits, extra_tables=dict(extra_tables or {})
                )
                written.append(stored)
                visitseq_url = stored.url
                fault_point("after_visits_upload")
            side_files: dict[str, StoredFile] = {}
            for name, (file_type, source) in file_items.items():
                stored = self.store.put_file(telescope, creation_day_obs, seq_uuid, source, name)
                written.append(stored)
                side_files[file_type] = stored
            row = dict(
                columns,
                visitseq_uuid=seq_uuid,
                visitseq_sha256=sha256,
                visitseq_label=label,
                visitseq_url=visitseq_url,
                telescope=telescope,
                first_day_obs=first,
                last_day_obs=last,
                creation_time=creation_time,
            )
            fault_point("before_transaction")
            with self.metadata.transaction() as conn:
                self.metadata.insert_visitseq(table, row, conn=conn)
                if tag_list:
                    self.metadata.tag(seq_uuid, *tag_list, conn=conn)
                for author, text in comment_list:
                    self.metadata.comment(seq_uuid, text, author=author, conn=conn)
                for file_type, stored in side_files.items():
                    self.metadata.register_file(seq_uuid, file_type, stored.sha256, stored.url, conn=conn)
                for stored in written:
                    self.metadata.record_checksum(seq_uuid, stored.url, stored.sha256, stored.size, conn=conn)
                if stats_frame is not None and len(stats_frame):
                    self.metadata.insert_nightly_stats(seq_uuid, stats_frame, conn=conn)
                fault_point("in_transaction")
        where = f"at {visitseq_url}" if visitseq_url else "(metadata only: its visits are not stored)"
        log.info("recorded %s %s (%d visits) %s", table, seq_uuid, len(visits), where)
        return ArchivedSequence(
            uuid=seq_uuid,
            table=table,
            telescope=telescope,
            label=label,
            creation_time=creation_time,
            first_day_obs=first,
            last_day_obs=last,
            visitseq_sha256=sha256,
            visitseq_url=visitseq_url,
            n_visits=len(visits),
            files={t: s.url for t, s in side_files.items()},
        )

    def archive_file(
        self,
        visitseq_uuid: object,
        source: Path | bytes,
        file_type: str,
        *,
        name: str | None = None,
        update: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Store a file of an existing sequence and register it; returns its URL.

        ``file_type`` ``visits`` replaces nothing: it stores ``visits.h5`` (converting an opsim
        sqlite file) and sets ``visitseq_url`` when the sequence has none, or when ``update``.
        ``progress(done, total)`` is called as the upload advances.
        """
        from .visits import opsim_to_h5, read_visits_h5, validate_observations

        seq_uuid = as_uuid(visitseq_uuid)
        meta = self.metadata.get_metadata(seq_uuid)
        telescope = meta["telescope"]
        creation_day_obs = dayobs_of(meta["creation_time"])
        if file_type == VISITS_FILE_TYPE:
            if meta.get("visitseq_url") and not update:
                raise InvalidInputError(f"sequence {seq_uuid} already has visits at {meta['visitseq_url']}")
            with self._as_visits_h5(source, OPSIM_SUFFIXES, opsim_to_h5) as h5_path:
                # Only a readable visits table is stored as the visits (InvalidInputError else).
                validate_observations(read_visits_h5(h5_path))

                def register_visits(stored: StoredFile, conn: Any) -> None:
                    self.metadata.set_visitseq_url(seq_uuid, stored.url, conn=conn)
                    self.metadata.record_checksum(seq_uuid, stored.url, stored.sha256, stored.size, conn=conn)

                with self.metadata.write_lease():
                    stored = self._store_and_register(
                        telescope,
                        creation_day_obs,
                        seq_uuid,
                        h5_path,
                        "visits.h5",
                        update,
                        progress,
                        register_visits,
                    )
            return stored.url
        file_type = _check_text("file type", file_type, MAX_TAG_LENGTH)
        if name is None:
            if isinstance(source, bytes):
                raise InvalidInputError("a file given as bytes needs a name")
            name = Path(source).name
        existing = self.metadata.get_files(seq_uuid)
        if file_type in existing and not update:
            raise InvalidInputError(f"sequence {seq_uuid} already has a {file_type!r} file: use update")

        def register(stored: StoredFile, conn: Any) -> None:
            self.metadata.register_file(
                seq_uuid, file_type, stored.sha256, stored.url, update=update, conn=conn
            )
            self.metadata.record_checksum(seq_uuid, stored.url, stored.sha256, stored.size, conn=conn)

        with self.metadata.write_lease():
            stored = self._store_and_register(
                telescope, creation_day_obs, seq_uuid, source, name, update, progress, register
            )
        return stored.url

    def _store_and_register(
        self,
        telescope: str,
        creation_day_obs: dt.date,
        seq_uuid: uuidlib.UUID,
        source: Path | bytes,
        name: str,
        update: bool,
        progress: Callable[[int, int], None] | None,
        register: Callable[[StoredFile, Any], None],
    ) -> StoredFile:
        """Store ``source`` as ``name`` and commit its rows (``register``) so that a failure at
        any step, a kill included, never loses the committed file.

        A new name is written in place and removed again when the rows do not commit (a file
        already there is never removed: only what this call created). Replacing a stored file
        (``update`` with different content) keeps the committed object untouched until the new
        rows are committed: the new content goes to a staging object beside it
        (`ArchiveStore.staging_path`), the rows are committed pointing at the file's own name
        (production readers rely on the name: ``visits.h5``), and only then the staging object
        is moved into place. A failure before the commit removes only the staging object; a
        commit whose outcome is unknown is settled by asking the database which checksum it
        holds. A kill before the commit leaves the staging object as an orphan; a kill (or a
        store failure) between the commit and the move is finished by ``verify --repair``.
        """
        target = str(self.store.file_path(telescope, creation_day_obs, seq_uuid, name))
        if not (update and self.store.exists(target)):
            written: list[StoredFile] = []
            with self._rollback_files_on_error(written):
                new = not self.store.exists(target)
                stored = self.store.put_file(
                    telescope, creation_day_obs, seq_uuid, source, name, overwrite=update, progress=progress
                )
                if new:
                    written.append(stored)
                with self.metadata.transaction() as conn:
                    register(stored, conn)
            return stored
        from .store import StoredFile

        staging = str(self.store.staging_path(target))
        staging_name = staging.rsplit("/", 1)[-1]
        staged = self.store.put_file(
            telescope, creation_day_obs, seq_uuid, source, staging_name, progress=progress
        )
        final = StoredFile(target, staged.sha256, staged.size)
        try:
            if self.store.sha256_of(target) == staged.sha256:
                self.store.delete(staging)  # the same content: only the rows change
                staging = ""
            with self.metadata.transaction() as conn:
                register(final, conn)
                fault_point("in_transaction")
        except BaseException:
            if staging and not self._committed(final):
                self._discard(staging)
                raise
            if staging:
                self._finish_update(staging, target)
            raise
        fault_point("after_update_commit")
        if staging:
            self._finish_update(staging, target)
        return final

    def _committed(self, stored: StoredFile) -> bool:
        """Whether the database records ``stored``'s checksum for its URL (after a failed
        commit: the transaction may have committed); True when the database cannot say, so
        that new content a committed row may vouch for is never thrown away."""
        try:
            return self.metadata.get_checksum(stored.url) == stored.sha256
        except Exception:  # noqa: BLE001 - unknown: keep the staging object for verify --repair
            log.error(
                "cannot tell whether the update of %s committed: verify --repair settles it", stored.url
            )
            return True

    def _discard(self, url: str) -> None:
        try:
            self.store.delete(url)
        except Exception:  # noqa: BLE001 - the original error wins; verify lists the orphan
            log.error("could not remove %s after a failed update: verify will list it as an orphan", url)

    def _finish_update(self, staging: str, target: str) -> None:
        """Move a committed update's content into place (the rows already vouch for it)."""
        try:
            self.store.move(staging, target)
        except VseqError as err:
            raise StoreError(
                f"the update of {target} is committed but its new content is still at {staging}: {err}; "
                "`vseqarchive verify --repair` moves it into place"
            ) from err

    def record_package_environment(self, packages: list[dict] | str | bytes | None = None) -> bytes:
        """Record a package environment and return its key (the SHA-256 of the stored JSON text).

        ``packages``: the text ``conda list --json`` printed (``str`` or ``bytes``, stored and
        keyed exactly as given, as the reference does), a list of package dicts (serialised as
        conda prints, then keyed), or None for this environment (conda's output when conda runs
        it, else the installed distributions).
        """
        from .environment import conda_list_json, package_environment_json

        if packages is None:
            text: str | bytes = package_environment_json()
        elif isinstance(packages, list):
            text = conda_list_json(packages)
        else:
            text = packages
        return self.metadata.record_conda_env(text)

    # -- reading -------------------------------------------------------------------------------

    def get_metadata(self, visitseq_uuid: object, table: str | None = None) -> dict[str, Any]:
        return self.metadata.get_metadata(as_uuid(visitseq_uuid), table)

    def find_sequences(
        self,
        table: str,
        *,
        telescope: str,
        first_day_obs: str | int | dt.date | None = None,
        last_day_obs: str | int | dt.date | None = None,
        visitseq_sha256: bytes | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Sequences of one kind (``table``) for a telescope, newest first.

        Filters on exactly the given ``first_day_obs``/``last_day_obs`` (the nights a sequence
        covers) and content hash. Used to re-materialize idempotently: a completed night whose
        newest sequence has the same content hash needs no new sequence.
        """
        import sqlalchemy as sa

        from .metadata import schema

        kind = getattr(schema, check_table(table))
        query = sa.select(kind).where(kind.c.telescope == check_telescope(telescope))
        if first_day_obs is not None:
            query = query.where(kind.c.first_day_obs == parse_dayobs(first_day_obs))
        if last_day_obs is not None:
            query = query.where(kind.c.last_day_obs == parse_dayobs(last_day_obs))
        if visitseq_sha256 is not None:
            query = query.where(kind.c.visitseq_sha256 == bytes(visitseq_sha256))
        query = query.order_by(kind.c.creation_time.desc(), kind.c.visitseq_uuid)
        if limit is not None:
            query = query.limit(limit)
        with self.metadata.transaction() as conn:
            rows = conn.execute(query).mappings().all()
        return [{k: (bytes(v) if isinstance(v, memoryview) else v) for k, v in row.items()} for row in rows]

    def latest_completed_by_night(
        self,
        *,
        telescope: str,
        through: str | int | dt.date,
        since: str | int | dt.date | None = None,
    ) -> dict[dt.date, dict[str, Any]]:
        """For each night ``since``..``through`` (inclusive; ``since`` None: the whole archive),
        the newest ``completed`` sequence with stored visits that covers it, with the recorded
        SHA-256 of its visits file (``visits_sha256``).

        The metadata layer's one answer to that question
        (:meth:`~vseq_resources.metadata.completed.CompletedSequences.newest_completed_by_night`):
        a multi-night sequence answers for each of its nights unless a newer one covers that
        night too. This is what pre-night simulations pre-load.
        """
        return self.metadata.newest_completed_by_night(check_telescope(telescope), through, since)

    def get_visits(
        self,
        visitseq_uuid: object,
        nights: Iterable[str | int | dt.date] | None = None,
        *,
        require_checksum: bool = False,
    ) -> pd.DataFrame:
        """The visits of a sequence, optionally only those of some nights (dayobs).

        Read through the one verified read path (:func:`~vseq_resources.stored_visits.read_stored_visits`):
        the file is checked against its recorded checksum before it is parsed (`IntegrityError`
        naming the sequence when it differs); a file with none is read with an
        `UnverifiedFileWarning`, or refused with ``require_checksum``.
        """
        from .stored_visits import read_stored_visits

        seq_uuid = as_uuid(visitseq_uuid)
        url, sha256 = self.metadata.get_visits_file(seq_uuid)
        if not url:
            raise NotFoundError(f"sequence {seq_uuid} has no stored visits")
        wanted = None if nights is None else [parse_dayobs(n) for n in nights]
        return read_stored_visits(
            url, sha256, sequence=seq_uuid, nights=wanted, require_checksum=require_checksum
        )

    def get_file(
        self,
        visitseq_uuid: object,
        file_type: str,
        destination: Path,
        progress: Callable[[int, int], None] | None = None,
        *,
        require_checksum: bool = False,
        copied: Callable[[Path], None] | None = None,
    ) -> Path:
        """Copy a stored file to ``destination``, checking its checksum; ``visits`` to an
        sqlite name (``.db``...) is converted back to an opsim database.

        ``destination`` appears only complete and verified: the bytes go to a temporary file
        first. The visits file goes through the same check as every visits read
        (:func:`~vseq_resources.store.verified_local_copy`: `IntegrityError` naming the
        sequence; a file with no recorded checksum warns, or is refused with
        ``require_checksum``). ``progress(done, total)`` is called as the download advances;
        ``copied(path)`` when the verified local ``visits.h5`` is ready, before it is converted."""
        seq_uuid = as_uuid(visitseq_uuid)
        destination = Path(destination)
        if file_type != VISITS_FILE_TYPE:
            url, expected = self.metadata.get_file(seq_uuid, file_type)
            self.store.get_file(url, destination, progress=progress, expected_sha256=expected)
            return destination
        from .store import verified_local_copy

        url, expected = self.metadata.get_visits_file(seq_uuid)
        if not url:
            raise NotFoundError(f"sequence {seq_uuid} has no stored visits")
        with verified_local_copy(
            url,
            expected,
            what=f"the visits of sequence {seq_uuid}",
            require_checksum=require_checksum,
            progress=progress,
        ) as checked:
            if copied is not None:
                copied(checked)
            return self._visits_to(checked, destination)

    @staticmethod
    def _visits_to(local: Path, destination: Path) -> Path:
        """Write a verified local ``visits.h5`` to ``destination``: converted to an opsim
        database for an sqlite name, copied otherwise; written whole, then renamed."""
        import shutil

        from .atomic import atomic_output
        from .visits import h5_to_opsim

        if destination.suffix.lower() in OPSIM_SUFFIXES:
            h5_to_opsim(local, destination, overwrite=True)
        else:
            with atomic_output(destination) as temporary:
                shutil.copyfile(local, temporary)
        return destination

    # -- annotations (thin, so that callers need only the archive) -----------------------------

    def tag(self, visitseq_uuid: object, *tags: str) -> None:
        self.metadata.tag(as_uuid(visitseq_uuid), *(check_tag(t) for t in tags))

    def untag(self, visitseq_uuid: object, tag: str) -> None:
        self.metadata.untag(as_uuid(visitseq_uuid), tag)

    def is_tagged(self, visitseq_uuid: object, tag: str) -> bool:
        return self.metadata.is_tagged(as_uuid(visitseq_uuid), tag)

    def comment(self, visitseq_uuid: object, text: str, author: str | None = None) -> None:
        author, text = self._comment_parts((author, text))
        self.metadata.comment(as_uuid(visitseq_uuid), text, author=author)

    def add_nightly_stats(
        self, visitseq_uuid: object, visits: pd.DataFrame, columns: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Compute nightly statistics of ``visits`` and store them for the sequence.

        Requested columns the visits lack are skipped (a batch computing the default columns must
        not stop on visits without one of them; see `missing_stats_columns`), but when the visits
        have none of them, nothing could be stored: `InvalidInputError` naming the columns.
        """
        from .visits import DEFAULT_STATS_COLUMNS, compute_nightly_stats

        seq_uuid = as_uuid(visitseq_uuid)
        self.metadata.get_metadata(seq_uuid)
        wanted = tuple([columns] if isinstance(columns, str) else (columns or DEFAULT_STATS_COLUMNS))
        missing = missing_stats_columns(visits, wanted)
        if missing and len(missing) == len(set(wanted)) and len(visits):
            raise InvalidInputError(
                f"the visits have none of the columns asked for ({', '.join(missing)}): no statistics "
                f"stored; name columns the visits have, e.g. {_some_columns(visits)}"
            )
        stats = compute_nightly_stats(visits, columns=wanted)
        self.metadata.insert_nightly_stats(seq_uuid, stats)
        return stats

    # -- consistency ---------------------------------------------------------------------------

    def file_references(self) -> list[FileReference]:
        """Every file the metadata points at, with its recorded SHA-256 when there is one."""
        rows = self.metadata.file_references().to_dict(orient="records")
        return [
            FileReference(as_uuid(r["visitseq_uuid"]), r["file_type"], r["file_url"], r["file_sha256"])
            for r in rows
        ]

    def verify(
        self,
        *,
        repair: bool = False,
        grace: dt.timedelta = dt.timedelta(hours=6),
        progress: Callable[[int, int], None] | None = None,
        now: dt.datetime | None = None,
        temporary_root: Path | None = None,
    ) -> VerifyReport:
        """Check the store against the metadata.

        Every referenced file inside this store is read and hashed against its recorded
        checksum; rows pointing at missing files are reported; store files no row refers to are
        orphans (left by interrupted writes). Referenced files outside this store (stored with
        another base, ``archive-file --archive-base``) are checked the same way when they have a
        checksum and a ``file://`` or ``s3://`` URL, and reported as outside. ``repair`` removes
        orphans older than ``grace`` (younger ones may belong to a write that is about to
        register them), and records the SHA-256 of visits files that have none (files the
        production archive wrote), so that readers verify them from then on: trust on first use,
        so repair a store you trust. A referenced file is never touched, whatever its state.

        The temporary directories that killed vseq processes of this host left in
        ``temporary_root`` (default: ``TMPDIR``; see `vseq_resources.tempfiles`) are listed too,
        and removed by ``repair``; they do not make the report fail (they are not the archive's).
        """
        from .store import STAGING_MARK

        base = str(self.store.base)
        report = VerifyReport(store=base)
        refs = self.file_references()
        referenced = {ref.url for ref in refs}
        inside = [ref for ref in refs if ref.url.startswith(base)]
        report.external = [ref for ref in refs if not ref.url.startswith(base)]
        entries = list(self.store.walk_files())
        staged = {entry.url for entry in entries if STAGING_MARK in entry.name}
        settled: set[str] = set()  # staging objects of committed updates: never orphans
        for done, ref in enumerate(inside, start=1):
            try:
                if not self.store.exists(ref.url):
                    report.missing.append(ref)
                    continue
                if ref.sha256 is None:
                    if repair and ref.file_type == VISITS_FILE_TYPE:
                        stored = self.store.stored_file(ref.url)
                        self.metadata.record_checksum(ref.uuid, ref.url, stored.sha256, stored.size)
                        report.recorded.append(ref)
                    else:
                        report.unchecked.append(ref)
                    continue
                actual = self.store.sha256_of(ref.url)
                report.checked += 1
                if actual != ref.sha256:
                    pending = self._committed_staging(ref, staged)
                    if pending is None:
                        report.corrupt.append((ref, f"SHA-256 {actual.hex()}, recorded {ref.sha256.hex()}"))
                    elif repair:
                        self.store.move(pending, ref.url)
                        settled.add(pending)
                        report.finished.append(ref)
                    else:
                        settled.add(pending)  # not an orphan: a committed row vouches for it
                        report.unfinished.append((ref, pending))
            except NotFoundError:
                report.missing.append(ref)
            except VseqError as err:
                report.unreadable.append((ref, str(err)))
            finally:
                if progress is not None:
                    progress(done, len(inside))
        self._verify_outside(report)
        self._find_temporaries(report, repair, temporary_root)
        with contextlib.ExitStack() as stack:
            if (
                repair
                and grace < MIN_REPAIR_GRACE
                and not stack.enter_context(self.metadata.no_write_running())
            ):
                grace = MIN_REPAIR_GRACE  # a running write's files must not be taken for orphans
                report.writers_running = True
            self._find_orphans(
                report, entries, referenced | settled, repair, (now or dt.datetime.now(dt.UTC)) - grace
            )
        return report

    def _verify_outside(self, report: VerifyReport) -> None:
        """Check the referenced files outside this store that have a checksum and a local or S3
        URL: missing, corrupt and unreadable ones are reported as such (marked outside)."""
        for ref in report.external:
            if ref.sha256 is None or not _checkable(ref.url):
                continue
            try:
                if not self.store.exists(ref.url):
                    report.missing.append(ref)
                elif (actual := self.store.sha256_of(ref.url)) != ref.sha256:
                    report.corrupt.append((ref, f"SHA-256 {actual.hex()}, recorded {ref.sha256.hex()}"))
                else:
                    report.external_checked.append(ref)
            except NotFoundError:
                report.missing.append(ref)
            except VseqError as err:
                report.unreadable.append((ref, str(err)))

    @staticmethod
    def _find_temporaries(report: VerifyReport, repair: bool, root: Path | None) -> None:
        from .tempfiles import leftover_temporaries, remove_temporary

        report.temporaries = leftover_temporaries(root)
        if repair:
            for leftover in report.temporaries:
                try:
                    remove_temporary(leftover)
                    report.temporaries_removed.append(leftover)
                except (OSError, VseqError) as err:
                    log.warning("could not remove %s: %s", leftover.path, err)

    def _find_orphans(
        self, report: VerifyReport, entries: list[Any], known: set[str], repair: bool, cutoff: dt.datetime
    ) -> None:
        """Store files no row refers to, older than ``cutoff``; removed with ``repair``."""
        for entry in entries:
            if entry.url in known:
                continue
            if not entry.name or entry.url.endswith("/"):
                continue  # (object stores may list directory markers: they are not files)
            modified = self._modified(entry.url)
            if modified is not None and modified > cutoff:
                report.young_orphans.append(entry.url)
                continue
            report.orphans.append(entry.url)
            if repair:
                try:
                    self.store.delete(entry.url)
                    report.removed.append(entry.url)
                except VseqError as err:
                    report.not_removed.append((entry.url, str(err)))

    def _committed_staging(self, ref: FileReference, staged: set[str]) -> str | None:
        """The staging object beside ``ref`` holding the bytes its row records, if any: an update
        committed by a writer that stopped before moving the content into place."""
        from .store import STAGING_MARK

        prefix = f"{ref.url}{STAGING_MARK}"
        for url in sorted(u for u in staged if u.startswith(prefix)):
            try:
                if self.store.sha256_of(url) == ref.sha256:
                    return url
            except VseqError:
                continue
        return None

    def _modified(self, url: str) -> dt.datetime | None:
        """When a stored object was last written (None when the store cannot say)."""
        from lsst.resources import ResourcePath

        resource = ResourcePath(url)
        try:
            if resource.scheme == "file":
                import os

                return dt.datetime.fromtimestamp(os.stat(resource.ospath).st_mtime, dt.UTC)
            if resource.scheme == "s3":
                bucket = resource.netloc.rpartition("@")[2]
                head = resource.client.head_object(Bucket=bucket, Key=resource.relativeToPathRoot)
                return head["LastModified"].astimezone(dt.UTC)
        except Exception:  # noqa: BLE001 - unknown age: treat as old enough, as before this check
            log.debug("cannot tell when %s was written", url)
        return None

    # -- internals -----------------------------------------------------------------------------

    @contextmanager
    def _rollback_files_on_error(self, written: list[StoredFile]) -> Iterator[None]:
        """Remove the files this call wrote when what follows fails, then re-raise.

        A file is removed only when the database positively says no committed row vouches for
        it: its checksum is recorded in the same transaction as the rows, so a failure reported
        by the commit itself (the transaction may have committed) keeps a file whose checksum is
        there. When the database cannot be asked, the file stays: an orphan that ``verify``
        reports is better than a row pointing at a deleted file.
        """
        try:
            yield
        except BaseException:
            for stored in reversed(written):
                try:
                    if self.metadata.get_checksum(stored.url) == stored.sha256:
                        continue  # committed after all: the rows refer to this file
                    self.store.delete(stored.url)
                except Exception:  # noqa: BLE001 - report and keep cleaning; the original error wins
                    log.error(
                        "could not remove %s after a failed write: verify will list it as an orphan",
                        stored.url,
                    )
            raise

    @contextmanager
    def _as_visits_h5(
        self, source: Path | bytes, opsim_suffixes: tuple[str, ...], convert: Any
    ) -> Iterator[Path]:
        if isinstance(source, bytes):
            raise InvalidInputError("visits must be given as a file (visits.h5 or an opsim sqlite file)")
        source = Path(source)
        if not source.is_file():
            raise NotFoundError(f"no such file: {source}")
        if source.suffix.lower() not in opsim_suffixes:
            yield source
            return
        from .tempfiles import local_temporary, space_checked

        with local_temporary("convert") as tmp:
            h5_path = tmp / "visits.h5"
            with space_checked(tmp, f"the visits.h5 converted from {source}"):
                convert(source, h5_path)
            yield h5_path

    def _check_sha256(self, url: str, local: Path, expected: bytes | None) -> None:
        from .errors import IntegrityError
        from .store import sha256_of_path

        if expected is None:
            return
        actual = sha256_of_path(local)
        if actual != expected:
            raise IntegrityError(
                f"{url} does not match its recorded checksum (expected {expected.hex()}, got {actual.hex()})"
            )

    @staticmethod
    def _comment_parts(comment: str | tuple[str | None, str]) -> tuple[str | None, str]:
        author, text = (None, comment) if isinstance(comment, str) else comment
        if author is not None:
            author = _check_text("author", author, MAX_TAG_LENGTH)
        return author, _check_text("comment", text, MAX_COMMENT_LENGTH)

    @staticmethod
    def _check_files(
        files: Mapping[str, Path | bytes | tuple[str, Path | bytes]],
    ) -> dict[str, tuple[str, Path | bytes]]:
        checked: dict[str, tuple[str, Path | bytes]] = {}
        for name, value in files.items():
            if isinstance(value, tuple):
                file_type, source = value
                file_type = _check_text("file type", file_type, MAX_TAG_LENGTH)
            else:
                file_type, source = (Path(name).stem if "." in name else name), value
            if file_type == VISITS_FILE_TYPE:
                raise InvalidInputError("visits are passed as the visits table, not as a side file")
            if not isinstance(source, bytes) and not Path(source).is_file():
                raise NotFoundError(f"no such file: {source}")
            checked[name] = (file_type, source)
        return checked

    @staticmethod
    def _check_creation_time(creation_time: dt.datetime | None) -> dt.datetime:
        if creation_time is None:
            return dt.datetime.now(dt.UTC)
        if creation_time.tzinfo is None or creation_time.utcoffset() is None:
            raise InvalidInputError("creation_time must be time-zone aware")
        from .metadata.values import in_time_range

        return in_time_range(creation_time).astimezone(dt.UTC)

    @staticmethod
    def _day_obs_range(
        visits: pd.DataFrame,
        first: str | int | dt.date | None,
        last: str | int | dt.date | None,
    ) -> tuple[dt.date | None, dt.date | None]:
        from .visits import MJD_COLUMN, dayobs_ordinals

        if (first is None or last is None) and len(visits):
            nights = dayobs_ordinals(visits[MJD_COLUMN])
            first = first if first is not None else dt.date.fromordinal(int(nights.min()))
            last = last if last is not None else dt.date.fromordinal(int(nights.max()))
        first_d = None if first is None else parse_dayobs(first)
        last_d = None if last is None else parse_dayobs(last)
        if first_d and last_d and first_d > last_d:
            raise InvalidInputError(f"first_day_obs {first_d} is after last_day_obs {last_d}")
        return first_d, last_d
