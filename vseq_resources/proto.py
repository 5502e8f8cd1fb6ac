"""The prototype simulation archive: import its simulations, export sequences back to it.

The prototype archive (still read by some tools) keeps one directory per simulation::

    ${PROTO_URI}/${ISO_DATE_ADDED}/${INDEX}/sim_metadata.yaml   (INDEX 1, 2, ... per day)

``sim_metadata.yaml`` holds ``label``, ``simulated_dates {first, last}``, ``scheduler_version``,
``sim_runner_kwargs``, ``tags``, ``telescope``, ``host``, ``username`` and ``files: {type: {name,
md5}}``, the ``observations`` file being the opsim sqlite output (``opsim.db``).

The reference exporter wrote the dates under ``simulation_dates`` while its importer read
``simulated_dates``, so exported simulations came back without their night range. Here the
importer reads both keys and the exporter writes ``simulated_dates``.

Import copies every listed file into the archive store (checking the md5 the prototype recorded),
converts the opsim output to ``visits.h5`` and records the simulation in one atomic step, tagged
``from_prototype_sim_archive`` with a comment naming the source. Export writes the data files
first and ``sim_metadata.yaml`` last, so a prototype reader never sees a half-written entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .archive import VISITS_FILE_TYPE, as_uuid, check_tag
from .dayobs import DayobsError, parse_dayobs
from .errors import IntegrityError, InvalidInputError, NotFoundError, StoreError, VseqError
from .storage_errors import is_missing
from .tempfiles import local_temporary

if TYPE_CHECKING:
    from lsst.resources import ResourcePath

    from .archive import ArchivedSequence, VisitSequenceArchive

log = logging.getLogger(__name__)

METADATA_FILE = "sim_metadata.yaml"
OBSERVATIONS_TYPE = "observations"
OPSIM_FILE = "opsim.db"
IMPORT_TAG = "from_prototype_sim_archive"
SIM_METADATA_TYPE = "sim_metadata"
"""File type under which an imported ``sim_metadata.yaml`` is kept (it is rewritten on export)."""
DATE_KEYS = ("simulated_dates", "simulation_dates")
CHUNK_SIZE = 8 * 1024 * 1024
_RUN_AT = re.compile(r"run at (\S+)\s*$")

Progress = Callable[[int, int], None]


# -- import -----------------------------------------------------------------------------------


def proto_sim_uri(proto_uri: str, sim_date: str | int | dt.date, sim_index: str | int) -> str:
    """The directory URI of one prototype simulation."""
    try:
        day = parse_dayobs(sim_date)
    except DayobsError as err:
        raise InvalidInputError(f"invalid prototype simulation date: {err}") from None
    index = _sim_index(sim_index)
    base = proto_uri if proto_uri.endswith("/") else proto_uri + "/"
    return f"{base}{day.isoformat()}/{index}/"


def _sim_index(value: str | int) -> int:
    try:
        index = int(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"invalid prototype simulation index {value!r}: expected 1, 2, ...") from None
    if index < 1:
        raise InvalidInputError(f"invalid prototype simulation index {value!r}: expected 1, 2, ...")
    return index


def read_proto_metadata(sim_uri: str) -> dict[str, Any]:
    """The parsed ``sim_metadata.yaml`` of a prototype simulation directory."""
    import yaml

    source = _resource(sim_uri, directory=True).join(METADATA_FILE)
    text = _read(source, what="prototype simulation metadata")
    try:
        metadata = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidInputError(f"{source} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"{source} does not hold a mapping of metadata")
    files = metadata.get("files")
    if not isinstance(files, dict) or not isinstance(files.get(OBSERVATIONS_TYPE), dict):
        raise InvalidInputError(f"{source} lists no {OBSERVATIONS_TYPE} file")
    for file_type, info in files.items():
        if not isinstance(info, dict) or not isinstance(info.get("name"), str):
            raise InvalidInputError(f"{source}: file {file_type!r} has no name")
    return metadata


def simulated_dates(metadata: dict[str, Any]) -> tuple[dt.date | None, dt.date | None]:
    """First and last simulated nights, from ``simulated_dates`` or the exporter's misspelling."""
    for key in DATE_KEYS:
        dates = metadata.get(key)
        if isinstance(dates, dict):
            return _optional_day(dates.get("first"), key), _optional_day(dates.get("last"), key)
    return None, None


def _optional_day(value: Any, key: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return parse_dayobs(value)
    except DayobsError as err:
        raise InvalidInputError(f"{key}: {err}") from None


def import_proto(
    archive: VisitSequenceArchive,
    sim_date: str | int | dt.date,
    sim_index: str | int,
    proto_uri: str,
    *,
    progress: Progress | None = None,
) -> ArchivedSequence:
    """Record prototype simulation ``sim_date``/``sim_index`` (with its files) in ``archive``."""
    import pandas as pd

    from .visits import opsim_to_h5

    sim_uri = proto_sim_uri(proto_uri, sim_date, sim_index)
    metadata = read_proto_metadata(sim_uri)
    day = parse_dayobs(sim_date)
    index = _sim_index(sim_index)
    first, last = simulated_dates(metadata)
    telescope = str(metadata.get("telescope") or "simonyi").lower()

    with local_temporary("proto") as tmp:
        local_dir = Path(tmp)
        local: dict[str, Path] = {}
        for file_type, info in metadata["files"].items():
            name = _safe_name(info["name"])
            source = _resource(sim_uri, directory=True).join(name)
            target = local_dir / "files" / str(len(local)) / name
            md5 = _download(source, target, progress)
            expected = info.get("md5")
            if expected and str(expected).lower() != md5:
                raise IntegrityError(f"{source} has md5 {md5}, but {METADATA_FILE} records {expected}")
            local[str(file_type)] = target
        metadata_copy = local_dir / METADATA_FILE
        _download(_resource(sim_uri, directory=True).join(METADATA_FILE), metadata_copy, None)

        observations = local.pop(OBSERVATIONS_TYPE)
        h5_path = local_dir / "visits.h5"
        if observations.suffix.lower() in (".h5", ".hdf5"):
            h5_path = observations
        else:
            opsim_to_h5(observations, h5_path)
        with pd.HDFStore(h5_path, mode="r") as store:
            tables = {key.lstrip("/"): store.get(key) for key in store.keys()}
        visits = tables.pop(OBSERVATIONS_TYPE)

        files: dict[str, tuple[str, Path]] = {}
        for file_type, path in local.items():
            if file_type in (SIM_METADATA_TYPE, "metadata", VISITS_FILE_TYPE):
                continue
            if path.name in files or path.name == "visits.h5":
                raise InvalidInputError(f"{sim_uri} lists the file name {path.name!r} twice")
            files[path.name] = (file_type, path)
        files[METADATA_FILE] = (SIM_METADATA_TYPE, metadata_copy)

        tags = _valid_tags(metadata.get("tags"))
        tags.add(IMPORT_TAG)
        origin = f"Imported from prototype sim_archive {day.isoformat()}, {index} ({sim_uri})"
        who = "@".join(str(metadata[k]) for k in ("username", "host") if metadata.get(k))
        if who:
            origin += f"; run by {who}"
        columns: dict[str, Any] = {}
        if metadata.get("scheduler_version") is not None:
            columns["scheduler_version"] = str(metadata["scheduler_version"])
        if isinstance(metadata.get("sim_runner_kwargs"), dict):
            columns["sim_runner_kwargs"] = _plain(metadata["sim_runner_kwargs"])
        return archive.record_sequence(
            "simulations",
            visits,
            label=_label(metadata, day, index, first, last),
            telescope=telescope,
            first_day_obs=first,
            last_day_obs=last,
            creation_time=_creation_time(metadata, day),
            extra_tables=tables,
            files=files,
            tags=sorted(tags),
            comments=[origin],
            **columns,
        )


def _label(
    metadata: dict[str, Any], day: dt.date, index: int, first: dt.date | None, last: dt.date | None
) -> str:
    label = metadata.get("label")
    if isinstance(label, str) and label.strip():
        return label
    label = f"{day.isoformat()}/{index}"
    if first is not None:
        label += f" of {first.isoformat()}"
        if last is not None and last != first:
            label += f" through {last.isoformat()}"
    if metadata.get("scheduler_version"):
        label += f" with {metadata['scheduler_version']}"
    return label


def _creation_time(metadata: dict[str, Any], day: dt.date) -> dt.datetime:
    """When the simulation ran: ``creation_time`` (written by export), else the time that
    pre-night labels end with (``... run at 2025-03-12T10:00:00``), else the start (00:00 UTC)
    of the day it was added to the prototype archive."""
    candidates = [metadata.get("creation_time")]
    label = metadata.get("label")
    if isinstance(label, str) and (match := _RUN_AT.search(label)):
        candidates.append(match[1])
    for value in candidates:
        when = _as_time(value)
        if when is not None:
            return when
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _as_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            when = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _valid_tags(tags: Any) -> set[str]:
    valid: set[str] = set()
    for tag in tags or ():
        try:
            valid.add(check_tag(tag))
        except InvalidInputError:
            log.warning("prototype tag %r is not a valid tag: skipped", tag)
    return valid


# -- export -----------------------------------------------------------------------------------


def export_proto(
    archive: VisitSequenceArchive,
    visitseq_uuid: object,
    proto_uri: str,
    *,
    today: dt.date | None = None,
) -> str:
    """Write a sequence to the prototype archive as ``${proto_uri}/${today}/${next index}/``;
    return that directory's URI.

    The visits become ``opsim.db`` (type ``observations``, unless the sequence has its own
    ``observations`` file); every other registered file is copied under its own name.
    """
    import yaml

    from .visits import h5_to_opsim

    seq_uuid = as_uuid(visitseq_uuid)
    meta = archive.metadata.get_metadata(seq_uuid)
    tags = sorted(archive.metadata.get_tags(seq_uuid))
    registered = {t: _url_of(v) for t, v in dict(archive.metadata.get_files(seq_uuid)).items()}
    registered.pop(SIM_METADATA_TYPE, None)
    visits_url = meta.get("visitseq_url")
    if OBSERVATIONS_TYPE not in registered and not visits_url:
        raise NotFoundError(f"sequence {seq_uuid} has no stored visits to export")

    day = today or dt.datetime.now(dt.UTC).date()
    target_dir = _claim_index(proto_uri, day)
    written: list[ResourcePath] = []
    try:
        file_entries: dict[str, dict[str, str]] = {}
        with local_temporary("proto") as tmp:
            if OBSERVATIONS_TYPE not in registered:
                from .store import verified_local_copy

                # Converting parses the file: only bytes that match the recorded checksum.
                _, visits_sha256 = archive.metadata.get_visits_file(seq_uuid)
                with verified_local_copy(
                    visits_url, visits_sha256, what=f"the visits of sequence {seq_uuid}"
                ) as local_h5:
                    opsim = Path(tmp) / OPSIM_FILE
                    h5_to_opsim(local_h5, opsim)
                file_entries[OBSERVATIONS_TYPE] = _upload(opsim, target_dir.join(OPSIM_FILE), written)
            names = {entry["name"] for entry in file_entries.values()}
            for file_type, url in sorted(registered.items()):
                name = _safe_name(url.rstrip("/").rsplit("/", 1)[-1])
                if name in names or name == METADATA_FILE:
                    raise InvalidInputError(
                        f"sequence {seq_uuid} has two files named {name!r}: cannot export"
                    )
                names.add(name)
                with archive.store.local_copy(url) as local:
                    file_entries[str(file_type)] = _upload(Path(local), target_dir.join(name), written)

        document = _proto_document(meta, tags, file_entries)
        text = yaml.safe_dump(document, sort_keys=False)
        metadata_target = target_dir.join(METADATA_FILE)
        _write_resource(metadata_target, text.encode("utf-8"))
        written.append(metadata_target)
    except BaseException:
        for resource in reversed(written):
            try:
                resource.remove()
            except Exception:  # noqa: BLE001 - best effort; the original error wins
                log.error("could not remove %s after a failed export", resource)
        _release_index(target_dir)
        raise
    return str(target_dir)


def _proto_document(
    meta: dict[str, Any], tags: list[str], files: dict[str, dict[str, str]]
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "uuid": str(meta["visitseq_uuid"]),
        "label": str(meta["visitseq_label"]),
        "telescope": meta.get("telescope"),
    }
    first, last = meta.get("first_day_obs"), meta.get("last_day_obs")
    if first is not None or last is not None:
        document["simulated_dates"] = {
            key: value.isoformat() for key, value in (("first", first), ("last", last)) if value is not None
        }
    if meta.get("scheduler_version") is not None:
        document["scheduler_version"] = meta["scheduler_version"]
    if meta.get("config_url") is not None:
        document["config_url"] = meta["config_url"]
    if meta.get("sim_runner_kwargs") is not None:
        document["sim_runner_kwargs"] = _plain(meta["sim_runner_kwargs"])
    document["tags"] = list(tags)
    creation = meta.get("creation_time")
    if isinstance(creation, dt.datetime):
        document["creation_time"] = creation.astimezone(dt.UTC).isoformat()
    document["files"] = files
    return document


def _claim_index(proto_uri: str, day: dt.date) -> ResourcePath:
    """The next free ``INDEX`` directory of ``day``, claimed where the store allows it.

    On a local file system the directory is created with ``mkdir`` (atomic: two exporters cannot
    get the same index); object stores have no directories, so there the index is the next one
    after every existing entry.
    """
    date_dir = _resource(proto_uri, directory=True).join(day.isoformat(), forceDirectory=True)
    index = max(_existing_indexes(date_dir), default=0) + 1
    if date_dir.scheme == "file":
        base = Path(date_dir.ospath)
        base.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                (base / str(index)).mkdir()
                break
            except FileExistsError:
                index += 1
    return date_dir.join(str(index), forceDirectory=True)


def _release_index(target_dir: ResourcePath) -> None:
    if target_dir.scheme == "file":
        try:
            Path(target_dir.ospath).rmdir()
        except OSError:
            pass


def _existing_indexes(date_dir: ResourcePath) -> list[int]:
    indexes: list[int] = []
    try:
        if not date_dir.exists():
            return indexes
        for directory, subdirs, _files in date_dir.walk():
            relative = (directory.relative_to(date_dir) or "").strip("/")
            if relative == "":
                for name in subdirs:
                    if name.strip("/").isdigit():
                        indexes.append(int(name.strip("/")))
            elif "/" not in relative and relative.isdigit():
                indexes.append(int(relative))
    except FileNotFoundError:
        return indexes
    except VseqError:
        raise
    except Exception as err:
        raise StoreError(f"could not list {date_dir}: {type(err).__name__}: {err}") from err
    return indexes


# -- transfers --------------------------------------------------------------------------------


def _resource(uri: str, directory: bool = False) -> ResourcePath:
    from lsst.resources import ResourcePath

    try:
        return ResourcePath(uri, forceDirectory=directory)
    except ValueError as err:
        raise InvalidInputError(f"invalid URI {uri!r}: {err}") from None


def _read(source: ResourcePath, what: str) -> bytes:
    try:
        return source.read()
    except Exception as err:
        if is_missing(err):
            raise NotFoundError(f"no {what} at {source}") from None
        raise StoreError(f"could not read {source}: {type(err).__name__}: {err}") from err


def _download(source: ResourcePath, target: Path, progress: Progress | None) -> str:
    """Copy ``source`` to the local ``target`` in chunks; return the content's md5 (hex)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        total = source.size()
        done = 0
        with source.open("rb") as handle, target.open("wb") as out:
            while chunk := handle.read(CHUNK_SIZE):
                out.write(chunk)
                md5.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except VseqError:
        raise
    except Exception as err:
        if is_missing(err):
            raise NotFoundError(f"{source} is listed in {METADATA_FILE} but does not exist") from None
        raise StoreError(f"could not read {source}: {type(err).__name__}: {err}") from err
    return md5.hexdigest()


def _upload(local: Path, target: ResourcePath, written: list[ResourcePath]) -> dict[str, str]:
    from lsst.resources import ResourcePath

    md5 = hashlib.md5(usedforsecurity=False)
    with local.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            md5.update(chunk)
    try:
        target.transfer_from(ResourcePath(str(local)), transfer="copy", overwrite=True)
    except Exception as err:
        raise StoreError(f"could not write {target}: {type(err).__name__}: {err}") from err
    written.append(target)
    return {"name": target.basename(), "md5": md5.hexdigest()}


def _write_resource(target: ResourcePath, data: bytes) -> None:
    try:
        target.write(data, overwrite=True)
    except Exception as err:
        raise StoreError(f"could not write {target}: {type(err).__name__}: {err}") from err


def _safe_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or any(ord(c) < 32 for c in name):
        raise InvalidInputError(f"invalid file name {name!r} in the prototype metadata")
    return name


def _url_of(value: Any) -> str:
    """``get_files`` may give a URL, a (url, sha256) pair or a row mapping."""
    if isinstance(value, tuple | list):
        return str(value[0])
    if isinstance(value, dict):
        return str(value.get("file_url") or value.get("url"))
    return str(value)


def _plain(value: Any) -> Any:
    """YAML/JSON-safe plain values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _plain(value.item())
    return value
