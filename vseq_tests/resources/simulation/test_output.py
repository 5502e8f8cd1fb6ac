"""rubin_scheduler's prints and warnings during simulations: nothing reaches stdout/stderr raw;
each distinct message is logged once, at its level, with its count (worker processes included)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import warnings

import numpy as np
import pytest

from vseq_resources.errors import InvalidInputError
from vseq_resources.simulation import run_simulations
from vseq_resources.simulation.output import captured_simulation_output
from vseq_resources.simulation.variants import NOMINAL, SEEING_1_2
from vseq_tests.resources.simulation.conftest import DAY_OBS
from vseq_tests.resources.simulation.synthetic import synthetic_visits

DEFAULT_CONFIG = "vseq_resources.simulation.default_config:get_scheduler"
LOGGER = "vseq_resources.simulation.rubin_scheduler"
ROTSP = "RotspUpdateDetailer"


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_repeated_output_is_logged_once_with_its_count(
    capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with captured_simulation_output() as output:
        for i in range(3):
            warnings.warn("Can not connect to any more pixels.", stacklevel=1)
            warnings.warn("No detailers provided, adding " + ROTSP, stacklevel=1)
            np.nanmax(np.full(4, np.nan))  # numpy's RuntimeWarning "All-NaN slice encountered"
            warnings.warn("something new", UserWarning, stacklevel=1)
            sys.stdout.write(f"\rprogress = {30 * i:.2f}%")
            print("Completed 768 observations")
            print("an unexpected line", file=sys.stderr)
    output.emit()
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing printed raw
    logged = {(r.levelname, r.getMessage()) for r in _records(caplog)}
    assert logged == {
        ("DEBUG", "rubin_scheduler warning, UserWarning (3 times): Can not connect to any more pixels."),
        ("INFO", "rubin_scheduler warning, UserWarning (3 times): No detailers provided, adding " + ROTSP),
        ("DEBUG", "rubin_scheduler warning, RuntimeWarning (3 times): All-NaN slice encountered"),
        ("WARNING", "rubin_scheduler warning, UserWarning (3 times): something new"),
        ("DEBUG", "rubin_scheduler stdout (3 times): progress = 60.00%"),
        ("DEBUG", "rubin_scheduler stdout (3 times): Completed 768 observations"),
        ("INFO", "rubin_scheduler stderr (3 times): an unexpected line"),
    }
    assert len(_records(caplog)) == len(logged)  # each once


def test_output_is_logged_even_when_the_simulation_fails(
    site_data, site_data_dir, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    config = tmp_path / "failing_config.py"
    config.write_text('def get_scheduler():\n    print("Completed 3 observations")\n    1 / 0\n')
    with pytest.raises(InvalidInputError, match="ZeroDivisionError"):
        run_simulations(config, day_obs=DAY_OBS, variants=(NOMINAL,), site_data_dir=site_data_dir)
    assert [r.getMessage() for r in _records(caplog)] == [
        "rubin_scheduler stdout (once): Completed 3 observations"
    ]


def test_simulations_in_worker_processes_print_nothing(
    site_data, site_data_dir, capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    """Two variants in two worker processes: sim_runner's summary lines of both come back with
    the results and are logged once, counted twice; the configuration's warning (built once, in
    this process) once."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    results = run_simulations(
        DEFAULT_CONFIG,
        day_obs=DAY_OBS,
        variants=(NOMINAL, SEEING_1_2),
        site_data_dir=site_data_dir,
        duration_hours=0.5,
        preloaded_visits=synthetic_visits(
            200, DAY_OBS - dt.timedelta(days=5), DAY_OBS - dt.timedelta(days=1)
        ),
        workers=2,
    )
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out, err)
    messages = [r.getMessage() for r in _records(caplog)]
    detailers = [m for m in messages if "No detailers provided" in m]
    assert len(detailers) == 1 and "(once)" in detailers[0], messages
    flushed = [m for m in messages if "Flushed" in m]
    assert len(flushed) == 1 and "(2 times)" in flushed[0], messages
    assert all(len(r.observations) > 0 for r in results)
    assert all(r.output for r in results)  # each worker's own capture came back with its result
    warned = [r for r in _records(caplog) if r.levelno >= logging.WARNING]
    assert not warned, [r.getMessage() for r in warned]  # nothing here a user must act on


def test_the_callers_own_output_is_not_taken_for_rubin_schedulers(
    site_data, site_data_dir, capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    """``on_result`` is the caller's work (the pre-night step archives there and logs through a
    handler that writes to the current ``sys.stderr``, as Dagster's console handler does): what
    it writes reaches the real stderr and is not logged back as rubin_scheduler's output."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    class CurrentStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(f"caller log: {record.getMessage()}\n")

    caller = logging.getLogger("vseq_tests.caller")
    handler = CurrentStderr()
    caller.addHandler(handler)
    caller.propagate = False
    try:
        run_simulations(
            DEFAULT_CONFIG,
            day_obs=DAY_OBS,
            variants=(NOMINAL,),
            site_data_dir=site_data_dir,
            duration_hours=0.25,
            on_result=lambda result: caller.warning("archived %s", result.variant.name),
            workers=1,
        )
    finally:
        caller.removeHandler(handler)
        caller.propagate = True
    _, err = capfd.readouterr()
    assert err == "caller log: archived nominal\n"
    messages = [r.getMessage() for r in _records(caplog)]
    assert messages and not [m for m in messages if "caller log" in m], messages
