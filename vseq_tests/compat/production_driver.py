"""Runs production's own code (rubin-sim 2.6.2 ``rubin_sim.sim_archive``) for the compatibility
tests, inside the production environment: never imports vseq.

Reads a JSON list of steps on stdin, each ``{"op": NAME, ...keyword arguments}``, runs them in
order in this one process (importing rubin_sim costs seconds) and prints, after the line
``RESULTS``, a JSON list with one ``{"value": ...}`` or ``{"error": "Type: message"}`` per step.
Values are made JSON-plain (``plain``): frames as ``{"columns", "index", "rows"}``, bytes and
memoryviews as hex, dates and times in ISO form, NaN as the string ``"NaN"``.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import math
import sys
import traceback
import uuid
from typing import Any

import numpy as np
import pandas as pd
from click.testing import CliRunner
from lsst.resources import ResourcePath
from rubin_sim.sim_archive import sim_archive as archive
from rubin_sim.sim_archive import vseqarchive as cli_module
from rubin_sim.sim_archive.prenightindex import (
    get_prenight_index,
    get_sim_metadata,
    get_sim_uuid,
    select_latest_prenight_sim,
)
from rubin_sim.sim_archive.util import compute_conda_env
from rubin_sim.sim_archive.vseqmetadata import VisitSequenceArchiveMetadata


def plain(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return {
            "columns": [str(c) for c in value.columns],
            "index": [plain(i) for i in value.index],
            "rows": [[plain(v) for v in row] for row in value.itertuples(index=False, name=None)],
            "dtypes": [str(t) for t in value.dtypes],
        }
    if isinstance(value, pd.Series):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is pd.NaT or value is None:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def metadata(schema: str) -> VisitSequenceArchiveMetadata:
    return VisitSequenceArchiveMetadata(None, schema)


def op_create_schema(schema: str) -> None:
    metadata(schema).create_schema_in_database()


def op_cli(args: list[str]) -> dict:
    result = CliRunner().invoke(cli_module.vseqarchive, args)
    gc.collect()  # each invocation opens a connection pool: let it go
    error = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        error = "".join(traceback.format_exception(result.exception))[-2000:]
    return {"exit_code": result.exit_code, "stdout": result.stdout, "error": error}


def op_get_prenight_index(day_obs: str, telescope: str, **kwargs: Any) -> Any:
    return get_prenight_index(day_obs, telescope, **kwargs)


def op_select_latest_prenight_sim(day_obs: str, telescope: str, index_kwargs: dict, **kwargs: Any) -> Any:
    return select_latest_prenight_sim(get_prenight_index(day_obs, telescope, **index_kwargs), **kwargs)


def op_find_latest_prenight_sim_for_nights(first_day_obs: str, last_day_obs: str, **kwargs: Any) -> Any:
    return archive.find_latest_prenight_sim_for_nights(first_day_obs, last_day_obs, **kwargs)


def op_fetch_sim_for_nights(first_day_obs: str, last_day_obs: str, which_sim: Any) -> Any:
    return archive.fetch_sim_for_nights(first_day_obs, last_day_obs, which_sim=which_sim)


def op_fetch_obsloctap_visits(**kwargs: Any) -> Any:
    return archive.fetch_obsloctap_visits(**kwargs)


def op_fetch_sim_stats_for_night(day_obs: str, **kwargs: Any) -> Any:
    return archive.fetch_sim_stats_for_night(day_obs, **kwargs)


def op_get_sim_uuid(sim_date: str, daily_id: int, schema: str | None = None, **kwargs: Any) -> Any:
    """By the database (no ``day_obs``), else through the pre-night index of ``day_obs``."""
    if "day_obs" in kwargs:
        return get_sim_uuid(dt.date.fromisoformat(sim_date), daily_id, schema=schema, **kwargs)
    return get_sim_uuid(dt.date.fromisoformat(sim_date), daily_id, vsmd=metadata(schema))


def op_get_sim_metadata(visitseq_uuid: str, schema: str | None = None, **kwargs: Any) -> Any:
    """By the database (no ``day_obs``), else through the pre-night index of ``day_obs``."""
    if "day_obs" in kwargs:
        return get_sim_metadata(visitseq_uuid, schema=schema, **kwargs)
    return get_sim_metadata(visitseq_uuid, vsmd=metadata(schema))


def op_conda_env_is_saved(schema: str) -> dict:
    """Production's own key of this environment (``conda list --json``, as production runs it)."""
    env_hash, _ = compute_conda_env()
    return {"key": env_hash.hex(), "saved": metadata(schema).conda_env_is_saved(env_hash)}


def op_query_nightly_stats(visitseq_uuid: str, schema: str) -> Any:
    return metadata(schema).query_nightly_stats(uuid.UUID(visitseq_uuid))


def op_sims_on_night_with_stats(day_obs: str, schema: str, **kwargs: Any) -> Any:
    return metadata(schema).sims_on_night_with_stats(day_obs, **kwargs)


def op_get_software_versions_for_sim(visitseq_uuid: str, schema: str) -> Any:
    return metadata(schema).get_software_versions_for_sim(uuid.UUID(visitseq_uuid))


def op_visits_stats(url: str, day_obs: str, columns: list[str]) -> Any:
    """Production's statistics of the stored visits on one night (its own computation)."""
    stats = archive.compute_nightly_stats(archive.get_visits(url), columns=tuple(columns))
    night = stats.loc[stats["day_obs"] == dt.date.fromisoformat(day_obs)]
    return night.set_index("value_name").to_dict(orient="index")


def op_get_visits(url: str) -> Any:
    return archive.get_visits(url)


def op_read_text(url: str) -> str:
    return ResourcePath(url).read().decode()


def op_record_with_api(
    schema: str,
    visits_h5: str,
    label: str,
    first_day_obs: str,
    last_day_obs: str,
    creation_time: str,
    archive_base: str,
    tags: list[str],
    conda_list: str,
) -> str:
    """A simulation recorded through production's Python API, as a pre-night script does."""
    md = metadata(schema)
    visits = pd.read_hdf(visits_h5, key="observations")
    env_hash = bytes.fromhex(hashlib.sha256(conda_list.encode()).hexdigest())
    md.record_conda_env(env_hash, conda_list)
    from astropy.time import Time

    sim = md.record_simulation_metadata(
        visits,
        label,
        first_day_obs=first_day_obs,
        last_day_obs=last_day_obs,
        creation_time=Time(creation_time),
        scheduler_version="4.6.0",
        conda_env_sha256=env_hash,
        sim_runner_kwargs={"n_nights": 3},
    )
    cli_module.add_file(md, sim, visits_h5, "visits", archive_base)
    md.tag(sim, *tags)
    md.insert_nightly_stats(sim, archive.compute_nightly_stats(visits))
    return str(sim)


def op_anomalous_overhead_offsets(seed: int, slew_scale: float, visits: list[dict[str, float]]) -> list:
    """The offsets production's ``AnomalousOverheadFunc(seed, slew_scale)`` returns, visit by visit."""
    from rubin_sim.sim_archive.prenight import AnomalousOverheadFunc

    func = AnomalousOverheadFunc(seed, slew_scale)
    return [float(func(obs=visit)) for visit in visits]


def substitute(text: str, saved: dict[str, str]) -> str:
    for key, value in saved.items():
        text = text.replace("{" + key + "}", value)
    return text


OPS = {name[3:]: function for name, function in globals().items() if name.startswith("op_")}


def main() -> None:
    steps = json.load(sys.stdin)
    results = []
    saved: dict[str, str] = {}  # a cli step's stdout kept under "save_as", for "{name}" in later args
    for step in steps:
        step = dict(step)
        name = step.pop("op")
        save_as = step.pop("save_as", None)
        if "args" in step:
            step["args"] = [substitute(arg, saved) for arg in step["args"]]
        try:
            value = OPS[name](**step)
            results.append({"value": plain(value)})
        except Exception as err:  # noqa: BLE001 - every failure is reported to the test
            results.append({"error": f"{type(err).__name__}: {err}"})
            continue
        if save_as is not None:
            saved[save_as] = value["stdout"].strip() if isinstance(value, dict) else str(value)
    print("RESULTS")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
