"""What a pre-night run is, in one place: predictions and re-simulations, run identity, inputs.

**Predictions and re-simulations of the past.** A pre-night simulation is a *prediction* of its
first night (``first_day_obs``) when it was created on or before that dayobs, i.e. before the
observing day of its first night ended (12:00 UTC the next day, after the night's sunrise). A
simulation created later (a Dagster backfill of a past partition, a re-run of a night that is
over) is a *re-simulation of the past*: it cannot have been what anyone expected of that night,
and it must never become the prediction readers return for a later night it also covers. A run
during its own night (the demo run in the evening, or a re-plan after a fault) is still that
night's prediction: the night is not over, and a later night it covers was still ahead.

A re-simulation is archived with the variant's tags except ``prenight``, which is replaced
by :data:`RESIMULATION_TAG` (:func:`archived_tags`): production's readers (rubin-sim's
``get_prenight_index``, obsloctap, the briefing), vseq's readers and the index snapshots all
select pre-night simulations by the ``prenight`` tag, so none of them sees it, for any night.
It is still its own partition's value: :mod:`vseq_resources.readers.partitions` reads a
partition's simulations among both kinds.

**Run identity.** Every simulation a pre-night run archives records the run it belongs to in
``sim_runner_kwargs["prenight_run"]`` (:data:`RUN_KEY`). A run is one pre-loaded survey state
simulated several ways (the variants); a re-run that reuses some of a run's simulations and adds
others continues that run (its new simulations take the same identity), a forced re-simulation
starts a new one. The briefing of a partition shows the variants of one run: the run of the
partition's newest nominal simulation (:func:`run_identity` groups index rows; simulations
recorded without the key, such as production's, form one group).

**Inputs fingerprint.** ``sim_runner_kwargs["inputs_sha256"]`` (:data:`INPUTS_KEY`) is the
SHA-256 of the canonical JSON of everything that determines a simulation
(:func:`inputs_fingerprint`): the completed sequences pre-loaded (UUIDs: a sequence's visits
never change, a re-archived night gets a new UUID), the look-back window, the scheduler
configuration (its URL and the SHA-256 of its text), the variant (name, tags, start delay,
seeing), the nights, the simulated duration, whether rewards are recorded, the rubin_scheduler
version and the site data (their description). A pre-night run reuses an archived simulation of
the same telescope and nights with the same fingerprint instead of simulating again, unless
asked to re-simulate (:func:`vseq_resources.prenight.run_prenight`). A reused simulation keeps
its own creation time, and so whether it is a prediction or a re-simulation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .dayobs import dayobs_of, parse_dayobs

PRENIGHT_TAG = "prenight"
RESIMULATION_TAG = "resimulation"
"""Replaces ``prenight`` on a simulation created after its first night's observing day ended."""
RUN_KEY = "prenight_run"
"""``sim_runner_kwargs`` key: the identity of the pre-night run a simulation belongs to."""
INPUTS_KEY = "inputs_sha256"
"""``sim_runner_kwargs`` key: the hex SHA-256 of the simulation's inputs (:func:`inputs_fingerprint`)."""
INPUTS_SCHEME = "vseq-prenight-inputs-v1"


def utc_now() -> dt.datetime:
    """The current time (aware, UTC): the creation time a pre-night run gives what it archives."""
    return dt.datetime.now(dt.UTC)


def is_resimulation(first_day_obs: str | int | dt.date, creation_time: dt.datetime) -> bool:
    """Whether a simulation starting on ``first_day_obs`` created at ``creation_time`` is a
    re-simulation of the past: created after the observing day of its first night ended."""
    return dayobs_of(creation_time) > parse_dayobs(first_day_obs)


def archived_tags(variant_tags: Iterable[str], resimulation: bool) -> list[str]:
    """The tags a simulation is archived with: the variant's, with ``prenight`` replaced by
    ``resimulation`` for a re-simulation of the past."""
    tags = [t for t in dict.fromkeys(variant_tags) if not (resimulation and t == PRENIGHT_TAG)]
    return [*tags, RESIMULATION_TAG] if resimulation else tags


def run_identity(row: Mapping[str, Any]) -> str | None:
    """The run an index row's simulation belongs to (None: recorded without one)."""
    kwargs = row.get("sim_runner_kwargs")
    value = kwargs.get(RUN_KEY) if isinstance(kwargs, Mapping) else None
    return str(value) if value is not None else None


def inputs_fingerprint(inputs: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON (sorted keys, no spaces) of a simulation's inputs."""
    text = json.dumps({"scheme": INPUTS_SCHEME, **inputs}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
