"""The rewards table of each scheduler decision, assembled in one DataFrame instead of dozens.

With ``keep_rewards`` set, every ``CoreScheduler._fill_queue`` (about 130 per simulated night)
calls ``CoreScheduler.make_reward_df(accum=False)``: each survey builds a small DataFrame of its
basis functions' rewards (``BaseSurvey.make_reward_df``), gets six columns assigned one by one,
and the frames are concatenated and indexed. Profiled on a default pre-night night, the pandas
work (building ~9 frames, ~50 column assignments and one concatenation per decision) was a
quarter of ``sim_runner``'s time, and recording rewards made a night about 60 % dearer.

:func:`reward_table` computes the same values, by the same calls in the same order (each basis
function, ``_reward_to_scalars``, ``check_feasibility``, each survey's
``calc_reward_function``), into plain lists, and builds the one DataFrame at the end: the same
columns, dtypes, index and values (``vseq_tests/resources/simulation/test_reward_tables.py``
compares them with rubin_scheduler's at every decision of a simulated hour). It falls back to
rubin_scheduler's method whenever the table is not a plain one: accumulated rewards asked for,
a survey that builds its own table (overrides ``make_reward_df``), a weight list that does not
match the basis functions, or a value that is not a plain number (whose column dtype pandas
would infer per survey). :func:`fast_reward_tables` installs it for the duration of a block.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from rubin_scheduler.scheduler.schedulers.core_scheduler import CoreScheduler
from rubin_scheduler.scheduler.surveys.base_survey import BaseSurvey

_RUBIN_MAKE_REWARD_DF = CoreScheduler.make_reward_df
_NUMERIC_COLUMNS = ("max_basis_reward", "basis_area", "basis_weight", "survey_reward")


class _NotPlain(Exception):
    """This decision's table is left to rubin_scheduler's own method."""


def _number(value: Any) -> Any:
    """``value`` if pandas infers the same column dtype from it alone or among others."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise _NotPlain
    return value


def _weights(survey: BaseSurvey) -> list:
    try:
        return list(survey.basis_weights)
    except AttributeError:
        return [1.0 for _ in survey.basis_functions]


def _plain(survey: BaseSurvey) -> bool:
    """Whether the survey's table is ``BaseSurvey.make_reward_df``'s, one row per basis function."""
    return type(survey).make_reward_df is BaseSurvey.make_reward_df and len(_weights(survey)) == len(
        survey.basis_functions
    )


def _survey_rows(survey: BaseSurvey, conditions: Any, columns: dict[str, list]) -> int:
    """``BaseSurvey.make_reward_df(conditions, accum=False)``'s rows, appended to ``columns``."""
    weights = _weights(survey)
    short_labels = survey.bf_short_labels
    for weight, basis_function in zip(weights, survey.basis_functions, strict=True):
        columns["basis_function"].append(short_labels[basis_function.label()])
        columns["basis_function_class"].append(basis_function.__class__.__name__)
        max_reward, basis_area = survey._reward_to_scalars(basis_function(conditions))
        if basis_area == 0:
            feasible = False
        else:
            feasible = bool(np.array(basis_function.check_feasibility(conditions)).any())
        columns["feasible"].append(feasible)
        columns["max_basis_reward"].append(_number(max_reward))
        columns["basis_area"].append(_number(basis_area))
        columns["basis_weight"].append(_number(weight))
    return len(survey.basis_functions)


def reward_table(scheduler: CoreScheduler, conditions: Any = None, accum: bool = True) -> pd.DataFrame:
    """What ``CoreScheduler.make_reward_df`` returns, built as one DataFrame."""
    if accum or not all(_plain(s) for tier in scheduler.survey_lists for s in tier):
        return _RUBIN_MAKE_REWARD_DF(scheduler, conditions, accum=accum)
    if conditions is None:
        conditions = scheduler.conditions
    columns: dict[str, list] = {
        name: []
        for name in (
            "basis_function",
            "basis_function_class",
            "feasible",
            "max_basis_reward",
            "basis_area",
            "basis_weight",
        )
    }
    per_survey: dict[str, list] = {
        name: []
        for name in (
            "list_index",
            "survey_index",
            "tier_label",
            "survey_label",
            "survey_class",
            "survey_reward",
        )
    }
    counts = []
    try:
        labels = scheduler.survey_labels
        for index0, survey_list in enumerate(scheduler.survey_lists):
            for index1, survey in enumerate(survey_list):
                count = _survey_rows(survey, conditions, columns)
                if count == 0:
                    continue
                rewards = survey.calc_reward_function(conditions)
                survey_reward = np.nan if np.all(np.isnan(rewards)) else np.nanmax(rewards)
                counts.append(count)
                per_survey["list_index"].append(index0)
                per_survey["survey_index"].append(index1)
                per_survey["tier_label"].append(f"tier {index0}")
                per_survey["survey_label"].append(labels[index0][index1])
                per_survey["survey_class"].append(survey.__class__.__name__)
                per_survey["survey_reward"].append(_number(survey_reward))
    except _NotPlain:  # a value seen after evaluating: evaluating again gives the same ones
        return _RUBIN_MAKE_REWARD_DF(scheduler, conditions, accum=accum)
    if not counts:  # rubin_scheduler's concatenation of nothing raises; so does this
        return _RUBIN_MAKE_REWARD_DF(scheduler, conditions, accum=accum)
    repeats = np.asarray(counts)
    data: dict[str, Any] = dict(columns)
    for name, values in per_survey.items():
        data[name] = np.repeat(np.asarray(values, dtype=object), repeats).tolist()
    return pd.DataFrame(data).set_index(["list_index", "survey_index"])


@contextmanager
def fast_reward_tables() -> Iterator[None]:
    """Within the block, ``CoreScheduler.make_reward_df`` is :func:`reward_table`.

    The class attribute is restored on exit whatever happens; nothing else changes.
    """
    CoreScheduler.make_reward_df = reward_table
    try:
        yield
    finally:
        CoreScheduler.make_reward_df = _RUBIN_MAKE_REWARD_DF
