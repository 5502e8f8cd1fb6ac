"""The value of an archived partition of a vseq asset: one mapping from asset name to loader.

:func:`load_partition` (any process) and the Dagster IO manager
(:class:`vseq_resources.dagster_resources.VseqArchiveIOManager`) both read partitions through
:data:`PARTITION_LOADERS`, from the archive itself (the store of record), through the one
verified read path for visits files.

Which simulations belong to a pre-night partition is decided by :func:`partition_simulations`
(found with :func:`partition_index`), which of them form its current run by :func:`partition_run`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..asset_names import (
    COMPLETED_METADATA,
    COMPLETED_VISITS,
    CONSDB_VISITS,
    NIGHT_REVIEW,
    PRENIGHT_BRIEFING,
    PRENIGHT_INDEX,
    PRENIGHT_METADATA,
    PRENIGHT_SIMS,
    split_asset_key,
)
from ..dayobs import parse_dayobs
from ..errors import InvalidInputError, NotFoundError
from ..night_review import NightPlan, NightReview, PlannedVariant, review_night
from .reader import ArchiveReader
from .selection import LATEST_TAGS, NoMatchingSimulationsError, select_latest

if TYPE_CHECKING:
    import pandas as pd

PartitionLoader = Callable[[ArchiveReader, str, dt.date], Any]
"""Reads one partition: ``loader(reader, telescope, night)``."""

BRIEFING_FILE_PREFIX = "briefing_"


def partition_simulations(index: pd.DataFrame, night: dt.date) -> pd.DataFrame:
    """The rows of a night's index that belong to the night's pre-night partition.

    Rule: a pre-night partition's simulations are the simulations whose first night
    (``first_day_obs``) is the partition's night, whenever they were run: the pre-night
    simulations made for it and the re-simulations of the past a later backfill of it made
    (:mod:`vseq_resources.prenight_runs`). A simulation made for an earlier night that also
    covers this one belongs to that earlier partition; a re-simulation is tagged so that no
    reader takes it for the prediction of any night (:func:`partition_index` finds it).
    """
    if index.empty:
        return index
    return index.loc[index["first_day_obs"] == night]


def partition_index(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    """Every simulation of the pre-night partition of ``night`` (:func:`partition_simulations`):
    from the night's pre-night index and its re-simulations (the latter through the database
    only), in the form of ``ArchiveReader.prenight_index``, oldest first."""
    import pandas as pd

    index = reader.prenight_index(night, telescope)
    resimulated = reader.resimulations(night, telescope)
    resimulated = resimulated.loc[~resimulated.index.isin(index.index)]
    if len(resimulated) and len(index):
        index = pd.concat([index, resimulated]).sort_values(["creation_time", "daily_id"], kind="stable")
    elif len(resimulated):
        index = resimulated
    return partition_simulations(index, night)


def partition_run(simulations: pd.DataFrame) -> pd.DataFrame:
    """The rows of one run among a partition's simulations: the run of the newest ideal/nominal
    one (else of the newest one). Runs are told apart by
    :func:`vseq_resources.prenight_runs.run_identity`; rows without one form one run."""
    from ..prenight_runs import run_identity

    if simulations.empty:
        return simulations
    anchor = select_latest(simulations, LATEST_TAGS, None)
    if anchor is None:
        anchor = select_latest(simulations, (), None)
    run = run_identity(anchor)
    same = [run_identity({"sim_runner_kwargs": kwargs}) == run for kwargs in simulations["sim_runner_kwargs"]]
    return simulations.loc[same]


def _completed_visits(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return reader.completed_visits(telescope, night)


def _completed_metadata(reader: ArchiveReader, telescope: str, night: dt.date) -> dict[str, Any]:
    row = reader.newest_completed(telescope, night)
    db = reader.database()
    assert db is not None  # newest_completed answered from it
    return db.get_metadata(row["visitseq_uuid"], table="completed")


def _prenight_index(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return reader.prenight_index(night, telescope)


def _prenight_metadata(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return partition_run(partition_index(reader, telescope, night))


def partition_nominal(simulations: pd.DataFrame) -> dict[str, Any] | None:
    """The simulation a pre-night partition's value is read from, among the partition's
    simulations (:func:`partition_simulations`): its newest ideal/nominal one; None if none."""
    return select_latest(simulations, LATEST_TAGS, None)


def _variant_name(row: dict[str, Any]) -> str:
    kwargs = row.get("sim_runner_kwargs") or {}
    if kwargs.get("variant"):
        return str(kwargs["variant"])
    tags = [t for t in row.get("tags") or () if t not in ("prenight", "ideal", "approximate_sky", "rewards")]
    return tags[0] if tags else str(row.get("visitseq_uuid"))


def run_variants(simulations: pd.DataFrame, nominal: dict[str, Any]) -> list[dict[str, Any]]:
    """The variants of the run that made ``nominal`` (nominal first), among a partition's simulations.

    A run's variants are the simulations recording the nominal's run identity
    (:func:`vseq_resources.prenight_runs.run_identity`); for simulations recorded without one,
    those sharing the pre-loaded completed visits (``parent_visitseq_uuid``) and the creation
    dayobs. When a run holds a variant more than once, the one created nearest to the nominal
    simulation is taken.
    """
    if simulations.empty:
        return [nominal]
    from ..prenight_runs import run_identity

    rows = [{**row, "visitseq_uuid": uuid} for uuid, row in simulations.to_dict(orient="index").items()]
    run = run_identity(nominal)
    if run is not None:  # recorded by the run (vseq_resources.prenight_runs)
        same = [r for r in rows if run_identity(r) == run]
    else:
        same = [
            r
            for r in rows
            if run_identity(r) is None
            and r.get("parent_visitseq_uuid") == nominal.get("parent_visitseq_uuid")
            and r.get("sim_creation_day_obs") == nominal.get("sim_creation_day_obs")
        ]
    chosen: dict[str, dict[str, Any]] = {_variant_name(nominal): nominal}
    when = nominal.get("creation_time")
    for row in sorted(same, key=lambda r: abs(r["creation_time"] - when) if when is not None else 0):
        chosen.setdefault(_variant_name(row), row)
    return list(chosen.values())


def night_plan(
    reader: ArchiveReader,
    simulations: pd.DataFrame,
    night: str | int | dt.date,
    nominal_visits: pd.DataFrame | None = None,
) -> NightPlan | None:
    """The plan of a night for the night review: the partition's selected simulation
    (:func:`partition_nominal` of ``simulations``, the partition's simulations) and the other
    variants of its run, each with its visits of the night through the verified read path
    (``nominal_visits``, when the caller has them already, are used for the nominal one).
    None when the partition has no nominal simulation."""
    day = parse_dayobs(night)
    nominal = partition_nominal(simulations)
    if nominal is None:
        return None
    variants = []
    for row in run_variants(simulations, nominal):
        is_nominal = row["visitseq_uuid"] == nominal["visitseq_uuid"]
        if is_nominal and nominal_visits is not None:
            visits = nominal_visits
        else:
            try:
                visits = reader.visits(row, [day])
            except NotFoundError:
                continue  # metadata only: nothing to compare
        kwargs = row.get("sim_runner_kwargs") or {}
        seeing = kwargs.get("seeing_fwhm_500")
        variants.append(
            PlannedVariant(
                name=_variant_name(row),
                uuid=str(row["visitseq_uuid"]),
                visits=visits,
                delay_minutes=float(kwargs.get("delay_minutes") or 0.0),
                seeing_fwhm_500=None if seeing is None else float(seeing),
                label=str(row.get("visitseq_label") or ""),
            )
        )
    if not variants or variants[0].uuid != str(nominal["visitseq_uuid"]):
        return None
    return NightPlan(nominal, variants, candidates=len(simulations))


def _own_nominal(reader: ArchiveReader, telescope: str, night: dt.date) -> dict[str, Any]:
    sim = partition_nominal(partition_index(reader, telescope, night))
    if sim is None:
        where = (
            " (re-simulations of the past are found through the metadata database, out of reach now)"
            if reader.last_source == "snapshot"
            else ""
        )
        raise NoMatchingSimulationsError(
            f"no matching simulations: no ideal/nominal {telescope} simulation starts on {night}{where}"
        )
    return sim


def _prenight_sims(reader: ArchiveReader, telescope: str, night: dt.date) -> pd.DataFrame:
    return reader.visits(_own_nominal(reader, telescope, night), [night])


def _prenight_briefing(reader: ArchiveReader, telescope: str, night: dt.date) -> dict[str, str]:
    files = _own_nominal(reader, telescope, night).get("files") or {}
    return {k: v for k, v in files.items() if k.startswith(BRIEFING_FILE_PREFIX)}


def _night_review(reader: ArchiveReader, telescope: str, night: dt.date) -> NightReview:
    completed = _completed_metadata(reader, telescope, night)
    observed = _completed_visits(reader, telescope, night)
    plan = night_plan(reader, _prenight_metadata(reader, telescope, night), night)
    return review_night(telescope, night, observed, plan, completed_uuid=str(completed["visitseq_uuid"]))


PARTITION_LOADERS: Mapping[str, PartitionLoader] = {
    CONSDB_VISITS: _completed_visits,
    COMPLETED_VISITS: _completed_visits,
    COMPLETED_METADATA: _completed_metadata,
    PRENIGHT_INDEX: _prenight_index,
    PRENIGHT_METADATA: _prenight_metadata,
    PRENIGHT_SIMS: _prenight_sims,
    PRENIGHT_BRIEFING: _prenight_briefing,
    NIGHT_REVIEW: _night_review,
}
"""Asset name -> what reads a partition of it back from the archive:

- ``consdb_visits``, ``completed_visits``: the night's visits, from the newest completed
  sequence covering the night (a DataFrame);
- ``completed_metadata``: that sequence's ``completed`` row (a dict);
- ``prenight_index``: the night's pre-night index (a DataFrame, as ``ArchiveReader.prenight_index``);
- ``prenight_metadata``: the index rows of the partition's current run: the simulations of the
  partition (:func:`partition_index`) made by the run of its newest ideal/nominal one
  (:func:`partition_run`);
- ``prenight_sims``: the night's visits in that newest ideal/nominal simulation of the partition;
- ``prenight_briefing``: figure file type -> URL of its briefing images;
- ``night_review``: the night's review (:class:`vseq_resources.night_review.NightReview`, without
  figures), computed again from the archive: the completed visits against :func:`night_plan` of
  the pre-night partition of the same night.
"""


def load_partition(
    asset: str | Any,
    partition_key: str | int | dt.date,
    *,
    reader: ArchiveReader | None = None,
) -> Any:
    """The value of an archived partition of a vseq Dagster asset, read from the archive.

    ``asset`` is a key as ``"simonyi/prenight_index"``, ``["simonyi", "prenight_index"]`` or a
    Dagster ``AssetKey``; ``partition_key`` a dayobs. The values are those of
    :data:`PARTITION_LOADERS`. Works outside Dagster (no instance needed). ``reader`` defaults
    to :meth:`ArchiveReader.from_env` (closed afterwards).
    """
    try:
        telescope, name = split_asset_key(asset)
    except ValueError as err:
        raise InvalidInputError(str(err)) from None
    night = parse_dayobs(partition_key)
    own = reader is None
    reader = reader or ArchiveReader.from_env()
    try:
        return PARTITION_LOADERS[name](reader, telescope, night)
    finally:
        if own:
            reader.close()
