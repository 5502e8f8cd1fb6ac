"""vseq: the archive of Rubin Observatory visit sequences, as a library usable without Dagster.

The names in ``__all__`` are the public interface. They are loaded on first use (PEP 562), so
that ``import vseq_resources`` stays cheap: metadata-only commands of the CLI must not pay for
numpy, pandas or lsst.resources, which the store and visits modules need.

- `VisitSequenceArchive`: record, store, find and read visit sequences (metadata + store);
- `ArchiveStore`: the files of visit sequences under one URI; `MetadataDatabase`: their records;
- `ArchiveReader`, `load_partition`: read-only access for notebooks and other consumers;
- `Settings` (every variable, read once), `ArchiveSettings`, `PrenightSettings`;
- `archive_completed_night`, `run_prenight`: archiving a night's completed visits and its
  pre-night simulations, as the pipeline does;
- stored visits, verified against their recorded checksum before parsing: `read_stored_visits`
  (`UnverifiedFileWarning`, `UnverifiedFileError` for files without one);
- ``visits.h5`` and visits tables: `read_visits_h5`, `write_visits_h5`, `visits_content_hash`,
  `compute_nightly_stats`, `opsim_to_h5`, `h5_to_opsim`;
- the errors vseq raises on purpose, all subclasses of `VseqError`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VisitSequenceArchive": "archive",
    "ArchivedSequence": "archive",
    "VerifyReport": "archive",
    "ArchiveSettings": "config",
    "PrenightSettings": "config",
    "Settings": "config",
    "archive_completed_night": "completed_night",
    "run_prenight": "prenight",
    "ArchiveStore": "store",
    "StoredFile": "store",
    "UnverifiedFileError": "store",
    "UnverifiedFileWarning": "store",
    "read_stored_visits": "stored_visits",
    "MetadataDatabase": "metadata",
    "migrate": "metadata",
    "ArchiveReader": "readers",
    "load_partition": "readers",
    "parse_dayobs": "dayobs",
    "dayobs_of": "dayobs",
    "compute_nightly_stats": "visits",
    "h5_to_opsim": "visits",
    "opsim_to_h5": "visits",
    "read_visits_h5": "visits",
    "visits_content_hash": "visits",
    "write_visits_h5": "visits",
    "VseqError": "errors",
    "ConfigurationError": "errors",
    "DatabaseUnavailableError": "errors",
    "IntegrityError": "errors",
    "InvalidInputError": "errors",
    "NotFoundError": "errors",
    "PermissionDeniedError": "errors",
    "StoreError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
