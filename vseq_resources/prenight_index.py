"""Pre-night index snapshots: the pre-night simulations of a night, as JSON in the store.

Most observatory services cannot reach the metadata database but can read the store. After each
pre-night simulation a snapshot of the pre-night simulations covering a night is written at::

    ${INDEX_URI}/${TELESCOPE}/${YEAR}/${MONTH}/${TELESCOPE}_prenights_for_${YYYY-MM-DD}.json

(``MONTH`` not zero-padded), as the reference ``make-prenight-index`` writes it: pandas
``to_json(orient="index", date_format="iso", indent=4)`` of the pre-night query with statistics,
indexed by UUID string, with dates as ISO strings, ``conda_env_sha256`` as hex, ``creation_time``
as ISO UTC, ``tags`` an array, ``comments`` and ``files`` objects, ``stats`` an object or null.
One file per (telescope, night), rewritten whole each time; a reader never sees a partial file
(local files are written to a temporary name and renamed, S3 objects appear when complete).
Readers fall back to it when the database is unreachable; a missing file means no simulations.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from .archive import check_telescope
from .atomic import atomic_output
from .dayobs import parse_dayobs
from .errors import StoreError
from .storage_errors import is_missing

if TYPE_CHECKING:
    import pandas as pd

    from .archive import VisitSequenceArchive

PRENIGHT_TAGS = ("prenight",)
"""The reference index lists every simulation tagged ``prenight`` (ideal or not) covering the night."""
MAX_SIMULATION_AGE_DAYS = None
"""No age limit (the reference passed 4000 days): every pre-night simulation of the night."""
DATE_COLUMNS = ("first_day_obs", "last_day_obs", "parent_last_day_obs", "sim_creation_day_obs")
UUID_COLUMNS = ("parent_visitseq_uuid",)
HEX_COLUMNS = ("conda_env_sha256", "visitseq_sha256")


def prenight_index_path(index_uri: str, day_obs: str | int | dt.date, telescope: str) -> str:
    """The URI of the snapshot of ``telescope``'s pre-night simulations for ``day_obs``."""
    day = parse_dayobs(day_obs)
    telescope = check_telescope(telescope)
    base = index_uri if index_uri.endswith("/") else index_uri + "/"
    return f"{base}{telescope}/{day.year}/{day.month}/{telescope}_prenights_for_{day.isoformat()}.json"


def prenight_index_json(prenights: pd.DataFrame) -> str:
    """The snapshot text of a pre-night query result (one row per simulation)."""
    import pandas as pd

    frame = prenights.copy()
    if "visitseq_uuid" in frame.columns:
        frame = frame.set_index("visitseq_uuid")
    frame.index = pd.Index([str(u) for u in frame.index], dtype=object, name="visitseq_uuid")
    for column in HEX_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].map(_hex).astype(object)
    for column in DATE_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].map(_iso_date).astype(object)
    for column in UUID_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v: None if _missing(v) else str(v)).astype(object)
    if "creation_time" in frame.columns:
        frame["creation_time"] = pd.to_datetime(frame["creation_time"], utc=True)
    if "stats" in frame.columns:
        frame["stats"] = frame["stats"].map(_stats_or_none).astype(object)
    for column in ("tags",):
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v: [] if _missing(v) else list(v)).astype(object)
    for column in ("comments", "files"):
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v: {} if _missing(v) else _plain(v)).astype(object)
    return frame.to_json(orient="index", date_format="iso", indent=4)


def write_prenight_index(
    archive: VisitSequenceArchive,
    day_obs: str | int | dt.date,
    telescope: str,
    destination_uri: str | None = None,
) -> str:
    """Write (replace) the snapshot for ``day_obs`` and ``telescope``; return its URI.

    ``destination_uri`` is the index base (default: the archive settings' index URI).
    """
    day = parse_dayobs(day_obs)
    telescope = check_telescope(telescope)
    base = destination_uri or default_index_uri(archive)
    prenights = archive.metadata.prenight_simulations(
        day, telescope, tags=PRENIGHT_TAGS, max_simulation_age=MAX_SIMULATION_AGE_DAYS, with_stats=True
    )
    text = prenight_index_json(prenights)
    target = prenight_index_path(base, day, telescope)
    _write_whole(target, text.encode("utf-8"))
    return target


def read_prenight_index(index_uri: str, day_obs: str | int | dt.date, telescope: str) -> pd.DataFrame:
    """The snapshot for ``day_obs`` as a DataFrame indexed by UUID string (empty when missing).

    Dates come back as ``datetime.date``, ``creation_time`` as an aware UTC timestamp, hashes
    as hex strings, the JSON columns as Python lists and dicts.
    """
    import pandas as pd
    from lsst.resources import ResourcePath

    target = ResourcePath(prenight_index_path(index_uri, day_obs, telescope))
    try:
        raw = target.read()
    except Exception as err:  # noqa: BLE001 - S3 reports a missing key in several ways
        if is_missing(err):
            return _empty_index()
        raise StoreError(f"could not read the pre-night index {target}: {type(err).__name__}: {err}") from err
    try:
        rows = json.loads(raw)
    except json.JSONDecodeError as err:
        raise StoreError(f"the pre-night index {target} is not valid JSON: {err}") from None
    if not rows:
        return _empty_index()
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "visitseq_uuid"
    for column in DATE_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v: None if _missing(v) else dt.date.fromisoformat(v))
    if "creation_time" in frame.columns:
        frame["creation_time"] = pd.to_datetime(frame["creation_time"], utc=True, format="ISO8601")
    return frame


def _empty_index() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(index=pd.Index([], dtype=object, name="visitseq_uuid"))


def default_index_uri(archive: VisitSequenceArchive) -> str:
    """The index base of the archive's settings (the environment's when it has none)."""
    settings = archive.settings
    if settings is None:
        from .config import ArchiveSettings

        settings = ArchiveSettings.from_env()
    return settings.index_uri


def _write_whole(target: str, data: bytes) -> None:
    """Replace ``target`` so that readers see the old or the new file, never a partial one."""
    from lsst.resources import ResourcePath

    resource = ResourcePath(target)
    try:
        if resource.scheme == "file":
            with atomic_output(resource.ospath, ".json") as temporary:
                temporary.write_bytes(data)
        else:
            resource.write(data, overwrite=True)  # an S3 PUT becomes visible only when complete
    except OSError as err:
        raise StoreError(f"could not write the pre-night index {target}: {err}") from err
    except Exception as err:
        if type(err).__module__.startswith(("botocore", "boto3", "lsst")):
            raise StoreError(
                f"could not write the pre-night index {target}: {type(err).__name__}: {err}"
            ) from err
        raise


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    try:
        import pandas as pd

        return value is pd.NaT or value is pd.NA
    except ImportError:  # pragma: no cover
        return False


def _hex(value: Any) -> str | None:
    if _missing(value):
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _iso_date(value: Any) -> str | None:
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "date"):
        return value.date().isoformat()
    return parse_dayobs(value).isoformat()


def _stats_or_none(value: Any) -> Any:
    if _missing(value):
        return None
    value = _plain(value)
    return value if value else None


def _plain(value: Any) -> Any:
    """JSON-ready Python values (numpy scalars, UUIDs and dates inside JSON columns)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, uuidlib.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _plain(value.item())
    return value
