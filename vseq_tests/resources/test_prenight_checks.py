"""The pre-night checks' verdicts on archived simulations: read back, tags, site data, ordering."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.prenight_checks import order_problems, read_back_problems
from vseq_tests.resources.readers_support import sim_visits

NIGHT = dt.date(2026, 4, 11)
AFTERNOON = dt.datetime(2026, 4, 11, 18, tzinfo=dt.UTC)
"""The afternoon before NIGHT: simulations recorded then are predictions (``prenight``)."""
_minutes = itertools.count()


def _record(  # noqa: ANN202
    archive: VisitSequenceArchive,
    variant: str,
    last_preloaded_mjd: float,
    tags: tuple[str, ...],
    creation_time: dt.datetime | None = None,
):
    visits = sim_visits([NIGHT.isoformat()], per_night=40)
    return archive.record_sequence(
        "simulations",
        visits,
        label=f"{variant} run",
        telescope="simonyi",
        first_day_obs=NIGHT,
        last_day_obs=NIGHT,
        tags=tags,
        creation_time=creation_time or AFTERNOON + dt.timedelta(minutes=next(_minutes)),
        parent_last_day_obs=NIGHT - dt.timedelta(days=1),
        sim_runner_kwargs={
            "variant": variant,
            "site_data": {"kind": "vseq_approximate"},
            "preloaded": {"last_mjd": last_preloaded_mjd},
        },
    )


def test_a_good_simulation_passes_both(archive: VisitSequenceArchive) -> None:
    nominal = _record(archive, "nominal", 0.0, ("prenight", "ideal", "nominal", "approximate_sky"))
    delayed = _record(archive, "delay_60", 0.0, ("prenight", "ideal", "delay_60", "approximate_sky"))
    sequences = {"nominal": nominal.uuid, "delay_60": delayed.uuid}
    problems, read = read_back_problems(archive, sequences, {"nominal": 40, "delay_60": 40})
    assert problems == {"nominal": [], "delay_60": []} and read == {"nominal": 40, "delay_60": 40}
    problems, firsts = order_problems(archive, NIGHT, sequences)
    assert problems == {"nominal": [], "delay_60": []} and set(firsts) == {"nominal", "delay_60"}


def test_a_resimulation_is_tagged_as_one(archive: VisitSequenceArchive) -> None:
    """After its night's dayobs a simulation is a re-simulation: ``resimulation``, never ``prenight``."""
    later = AFTERNOON + dt.timedelta(days=1)
    honest = _record(archive, "nominal", 0.0, ("resimulation", "ideal", "nominal", "approximate_sky"), later)
    problems, _ = read_back_problems(archive, {"nominal": honest.uuid})
    assert problems == {"nominal": []}
    posing = _record(archive, "nominal", 0.0, ("prenight", "ideal", "nominal", "approximate_sky"), later)
    problems, _ = read_back_problems(archive, {"nominal": posing.uuid})
    assert problems == {
        "nominal": [
            "nominal: a re-simulation of the past tagged prenight",
            "nominal: tags ['approximate_sky', 'ideal', 'nominal', 'prenight'] lack ['resimulation']",
        ]
    }


def test_each_problem_is_named(archive: VisitSequenceArchive) -> None:
    untagged = _record(archive, "nominal", 99999.0, ("prenight", "ideal", "nominal"))
    sequences = {"nominal": untagged.uuid}
    problems, _ = read_back_problems(archive, sequences, {"nominal": 41})
    assert problems["nominal"] == [
        "nominal: 40 visits read back, 41 recorded",
        "nominal: approximate site data but no approximate_sky tag",
    ]
    problems, _ = order_problems(archive, NIGHT, sequences)
    (problem,) = problems["nominal"]
    assert problem.startswith("nominal: first visit MJD ")
    assert "is not after the last pre-loaded visit 99999.00000" in problem

    # A stored file changed after it was recorded is refused before it is parsed.
    path = Path(untagged.visitseq_url.removeprefix("file://"))
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    problems, read = read_back_problems(archive, sequences)
    assert read == {} and len(problems["nominal"]) == 1
    assert problems["nominal"][0].startswith(f"nominal ({untagged.uuid}): cannot be read back: ")
