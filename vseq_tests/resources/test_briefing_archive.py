"""Archiving a night's briefing: figures as files of the nominal simulation, listed by its snapshots,
replaced when the briefing is built again."""

from __future__ import annotations

import datetime as dt
import json

from lsst.resources import ResourcePath

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.briefing_archive import archive_briefing
from vseq_resources.prenight_index import prenight_index_path
from vseq_tests.resources.readers_support import record_sim

NIGHTS = ("2026-04-11", "2026-04-12")


def test_figures_archived_next_to_the_nominal_simulation(archive: VisitSequenceArchive) -> None:
    nominal = record_sim(archive, "Nominal start and overhead, ideal conditions", NIGHTS, per_night=120)
    archived = archive_briefing(archive, "simonyi", dt.date(2026, 4, 11))
    assert archived.briefing.uuid == nominal
    assert set(archived.urls) == set(archived.briefing.figures)
    files = archive.metadata.get_files(nominal)
    for name, url in archived.urls.items():
        assert files[f"briefing_{name}"][0] == url and url.endswith(f"/briefing_{name}.png")
        assert ResourcePath(url).read() == archived.briefing.figures[name]
    for night in NIGHTS:  # both nights the simulation covers list the figures
        path = prenight_index_path(archive.settings.index_uri, night, "simonyi")
        snapshot = json.loads(ResourcePath(path).read())
        assert set(snapshot[nominal]["files"]) >= {f"briefing_{name}" for name in archived.urls}

    again = archive_briefing(archive, "simonyi", "2026-04-11")  # replaced, not refused
    assert again.urls == archived.urls
