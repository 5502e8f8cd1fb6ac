"""rubin_scheduler's console output during a simulation, turned into log messages: each distinct
one once, at its level, with how many times it came.

``sim_runner`` prints its summary lines ("Completed 768 observations", "Writing results to ...")
on stdout whatever ``verbose`` says, and rubin_scheduler and numpy warn through ``warnings``
("No detailers provided ...", "Can not connect to any more pixels.", "All-NaN slice
encountered"), once per variant, per night or per call. :func:`captured_simulation_output`
takes all of it for the duration of a simulation (nothing reaches the terminal or a run's raw
output); at the end, every distinct message is logged once through the logger
``vseq_resources.simulation.rubin_scheduler`` with its count, even when the simulation fails
(:func:`.runner.run_simulations`). A Dagster step forwards that logger to its own log
(``vseq_assets.logs``).

Levels: a warning of rubin_scheduler is a ``WARNING`` unless :data:`KNOWN_MESSAGES` says why it
is expected (then ``INFO`` or ``DEBUG``); a printed line is ``INFO`` unless it is a known
progress or summary line (``DEBUG``). Simulations in worker processes capture their own output,
carry it back with their result (:attr:`~.runner.SimulationResult.output`) and the parent merges
it, so every message is logged once in the process that asked for the simulations.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

log = logging.getLogger("vseq_resources.simulation.rubin_scheduler")


@dataclass(frozen=True)
class KnownMessage:
    pattern: re.Pattern[str]
    level: int
    reason: str
    collapse: bool = False
    """Messages differing only in their numbers count as one (progress percentages)."""


KNOWN_MESSAGES: tuple[KnownMessage, ...] = (
    KnownMessage(
        re.compile(r"^No detailers provided"),
        logging.INFO,
        "rubin_scheduler adds its rotator detailer to a configuration without one (vseq's offline survey)",
    ),
    KnownMessage(
        re.compile(r"^Can not connect to any more pixels"),
        logging.DEBUG,
        "healpix ordering of a masked sky map stops at the mask's edge, as intended",
    ),
    KnownMessage(
        re.compile(r"^All-NaN (slice|axis) encountered"),
        logging.DEBUG,
        "numpy on sky maps whose pixels are all masked (below the horizon or near the Moon)",
    ),
    KnownMessage(re.compile(r"^Mean of empty slice"), logging.DEBUG, "numpy on an empty masked map"),
    KnownMessage(re.compile(r"^progress = "), logging.DEBUG, "sim_runner's progress line", collapse=True),
    KnownMessage(
        re.compile(r"^(Skipped|Flushed|Completed) \d+ observations|^ran in \d+ min|^Writing results to "),
        logging.DEBUG,
        "sim_runner's summary (vseq reports each simulation's visits itself)",
    ),
)


def classify(text: str, default: int) -> tuple[int, str]:
    """The level of a message and the key that identifies it among the others."""
    for known in KNOWN_MESSAGES:
        if known.pattern.search(text):
            return known.level, re.sub(r"\d+(\.\d+)?", "#", text) if known.collapse else text
    return default, text


@dataclass
class CapturedMessage:
    source: str
    """``warning`` (with its category), ``stdout`` or ``stderr``."""
    text: str
    level: int
    count: int = 1


@dataclass
class SimulationOutput:
    """The distinct messages captured so far, in order of first appearance."""

    messages: dict[tuple[str, str], CapturedMessage] = field(default_factory=dict)

    def add(self, source: str, text: str, default_level: int, count: int = 1) -> None:
        text = text.strip()
        if not text:
            return
        level, key = classify(text, default_level)
        found = self.messages.get((source, key))
        if found is None:
            self.messages[(source, key)] = CapturedMessage(source, text, level, count)
        else:
            found.count += count
            found.text = text  # a collapsed progress line shows its last value

    def merge(self, other: SimulationOutput | list[CapturedMessage]) -> None:
        """Add the messages of another capture (a worker process's)."""
        captured = other.messages.values() if isinstance(other, SimulationOutput) else other
        for message in captured:
            self.add(message.source, message.text, message.level, message.count)

    def as_list(self) -> list[CapturedMessage]:
        return list(self.messages.values())

    def emit(self, logger: logging.Logger = log) -> None:
        """Log each distinct message once, at its level, with its count."""
        for message in self.messages.values():
            times = "once" if message.count == 1 else f"{message.count} times"
            logger.log(message.level, "rubin_scheduler %s (%s): %s", message.source, times, message.text)


def _warning_level(category: type[Warning]) -> int:
    """WARNING, except deprecations inside rubin_scheduler and its libraries (DEBUG: nothing a
    vseq user can act on; they matter when upgrading, see the pins in pyproject.toml)."""
    if issubclass(category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
        return logging.DEBUG
    return logging.WARNING


class _LineWriter(io.TextIOBase):
    """A text stream that hands every complete line (ended by a newline or a carriage return)
    to the capture."""

    def __init__(self, output: SimulationOutput, source: str, level: int) -> None:
        self.output, self.source, self.level, self.pending = output, source, level, ""
        self.overwritable = False
        """Whether the pending text follows a carriage return (a progress line)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.overwritable and text and text[0] not in "\r\n":
            # A progress line ("\rprogress = 12%") is followed by ordinary output: on a
            # terminal they would share a line; here they are two messages.
            self.close_line()
        parts = re.split(r"([\r\n])", self.pending + text)
        self.pending = parts.pop()
        for line, end in zip(parts[::2], parts[1::2], strict=True):
            self.output.add(self.source, line, self.level)
            self.overwritable = end == "\r"
        if not parts and text:
            self.overwritable = self.overwritable and bool(self.pending)
        return len(text)

    def flush(self) -> None:
        pass

    def close_line(self) -> None:
        if self.pending:
            self.output.add(self.source, self.pending, self.level)
            self.pending = ""
        self.overwritable = False


@contextlib.contextmanager
def captured_simulation_output(into: SimulationOutput | None = None) -> Iterator[SimulationOutput]:
    """Capture stdout, stderr and warnings while simulating, into ``into`` (or a new capture);
    whoever asked for the simulations logs them once at the end (:meth:`SimulationOutput.emit`).

    Python-level output only: ``sys.stdout``/``sys.stderr`` are replaced for the duration, which
    is all rubin_scheduler and numpy write to. A logging handler that writes to the *current*
    ``sys.stderr`` (Dagster's console handler does) is captured too, so only rubin_scheduler's
    work belongs inside: the caller's own work and log lines stay out (:mod:`.runner`).
    """
    output = SimulationOutput() if into is None else into
    out = _LineWriter(output, "stdout", logging.INFO)
    err = _LineWriter(output, "stderr", logging.INFO)
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.simplefilter("always")  # every occurrence reaches the record, to be counted
        try:
            yield output
        finally:
            out.close_line()
            err.close_line()
            for warning in caught:
                source = f"warning, {warning.category.__name__}"
                output.add(source, str(warning.message), _warning_level(warning.category))
