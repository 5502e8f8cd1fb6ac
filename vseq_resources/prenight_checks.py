"""What the pre-night checks verify about a night's archived simulations, as lists of problems.

- :func:`read_back_problems`: each simulation's ``visits.h5`` reads back (through the archive,
  which checks the file's SHA-256 first) with the recorded visit count, content hash and tags
  (``resimulation`` in place of ``prenight`` when it was created after its first night's dayobs), and
  its ``sim_runner_kwargs`` say which site data were used (with ``approximate_sky`` when they were
  not the real ones).
- :func:`order_problems`: the simulated visits start at or after the start of the night's dayobs
  and after the last pre-loaded completed visit, and the parent is a night before.

Both take the sequences to check as variant -> UUID and return variant -> problems (an empty list
when everything holds for that variant), so a failed simulation can be marked on its own. The
pre-night step runs them on what it has just archived (``vseq_assets.prenight``).
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .dayobs import dayobs_mjd_start
from .prenight import APPROXIMATE_SKY_TAG, SIMULATIONS_TABLE
from .prenight_runs import PRENIGHT_TAG, archived_tags, is_resimulation

if TYPE_CHECKING:
    from .archive import VisitSequenceArchive


def read_back_problems(
    archive: VisitSequenceArchive,
    sequences: Mapping[str, uuidlib.UUID],
    recorded_counts: Mapping[str, int] | None = None,
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Problems reading each simulation back (variant -> its problems, empty when it passes), and
    the visits read per variant.

    ``recorded_counts`` (variant -> visits, as the run reported them) are compared when given.
    """
    from .errors import InvalidInputError
    from .faults import fault_point
    from .simulation.variants import variant_by_name
    from .visits import visits_content_hash

    fault_point("before_read_back")
    counts = recorded_counts or {}
    found: dict[str, list[str]] = {}
    read: dict[str, int] = {}
    for variant, seq_uuid in sequences.items():
        problems = found[variant] = []
        meta = archive.get_metadata(seq_uuid, table=SIMULATIONS_TABLE)
        try:
            visits = archive.get_visits(seq_uuid)  # checks the file's SHA-256 first
        except Exception as err:  # noqa: BLE001 - any failure to read back is what this reports
            problems.append(f"{variant} ({seq_uuid}): cannot be read back: {err}")
            continue
        read[variant] = len(visits)
        if variant in counts and len(visits) != int(counts[variant]):
            problems.append(f"{variant}: {len(visits)} visits read back, {counts[variant]} recorded")
        if visits_content_hash(visits) != bytes(meta["visitseq_sha256"]):
            problems.append(f"{variant}: content hash differs from visitseq_sha256")
        tags = set(archive.metadata.get_tags(seq_uuid))
        try:
            variant_tags = variant_by_name(variant).tags
        except InvalidInputError:
            variant_tags = (PRENIGHT_TAG,)
        resimulation = is_resimulation(meta["first_day_obs"], meta["creation_time"])
        expected = set(archived_tags(variant_tags, resimulation))
        if resimulation and PRENIGHT_TAG in tags:
            problems.append(f"{variant}: a re-simulation of the past tagged {PRENIGHT_TAG}")
        if not expected <= tags:
            problems.append(f"{variant}: tags {sorted(tags)} lack {sorted(expected - tags)}")
        site = (meta.get("sim_runner_kwargs") or {}).get("site_data") or {}
        if "kind" not in site:
            problems.append(f"{variant}: sim_runner_kwargs do not say which site data were used")
        elif site["kind"] != "rubin_sim_data" and APPROXIMATE_SKY_TAG not in tags:
            problems.append(f"{variant}: approximate site data but no {APPROXIMATE_SKY_TAG} tag")
    return found, read


def order_problems(
    archive: VisitSequenceArchive, night: dt.date, sequences: Mapping[str, uuidlib.UUID]
) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Problems with where each simulation starts (variant -> its problems, empty when it passes),
    and the first visit MJD per variant."""
    night_start = dayobs_mjd_start(night)
    found: dict[str, list[str]] = {}
    firsts: dict[str, float] = {}
    for variant, seq_uuid in sequences.items():
        problems = found[variant] = []
        meta = archive.get_metadata(seq_uuid, table=SIMULATIONS_TABLE)
        if meta["first_day_obs"] != night:
            problems.append(f"{variant}: first_day_obs {meta['first_day_obs']} is not {night}")
        parent_last = meta.get("parent_last_day_obs")
        if parent_last is not None and parent_last >= night:
            problems.append(f"{variant}: parent_last_day_obs {parent_last} is not before {night}")
        preloaded = (meta.get("sim_runner_kwargs") or {}).get("preloaded") or {}
        visits = archive.get_visits(seq_uuid)
        if not len(visits):
            continue
        first_mjd = float(visits["observationStartMJD"].min())
        firsts[variant] = first_mjd
        if first_mjd < night_start:
            problems.append(f"{variant}: first visit MJD {first_mjd:.5f} is before dayobs {night} starts")
        last_preloaded = preloaded.get("last_mjd")
        if last_preloaded is not None and first_mjd <= float(last_preloaded):
            problems.append(
                f"{variant}: first visit MJD {first_mjd:.5f} is not after the last pre-loaded visit "
                f"{float(last_preloaded):.5f}"
            )
    return found, firsts
