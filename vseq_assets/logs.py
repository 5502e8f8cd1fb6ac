"""The library's log messages in the step's log.

vseq's library logs through Python ``logging`` (it imports no Dagster), for instance
rubin_scheduler's output, de-duplicated with counts (:mod:`vseq_resources.simulation.output`).
:func:`library_logs` forwards the ``vseq_resources`` loggers' records to ``context.log`` at
their own level for the duration of a step, so they appear in the run's event log (and the
UI's step log) whatever the instance's ``python_logs`` settings, and nowhere else meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

LIBRARY_LOGGER = "vseq_resources"


class _StepLogHandler(logging.Handler):
    def __init__(self, step_log: Any) -> None:
        super().__init__(logging.DEBUG)
        self.step_log = step_log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.step_log.log(record.levelno, record.getMessage())
        except Exception:  # a log line must never fail the step
            self.handleError(record)


@contextlib.contextmanager
def library_logs(context: Any, name: str = LIBRARY_LOGGER) -> Iterator[None]:
    """Forward the records of logger ``name`` (and its children) to ``context.log`` meanwhile;
    they do not also propagate to the root logger (which would print them a second time)."""
    logger = logging.getLogger(name)
    handler = _StepLogHandler(context.log)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
