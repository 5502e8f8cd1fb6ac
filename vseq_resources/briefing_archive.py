"""Archiving a night's pre-night briefing next to its nominal simulation.

The figures of :func:`vseq_resources.briefing.build_briefing` are archived as files of the nominal
simulation (``archive_file`` with ``update=True``, file types ``briefing_<figure>``, names
``briefing_<figure>.png``), so they appear in its ``files`` and can be fetched like any other file;
building the briefing again replaces them. The nominal simulation's files changed, so the index
snapshots of every night it covers are rewritten to list them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .briefing import Briefing, build_briefing
from .dayobs import parse_dayobs
from .prenight_index import write_prenight_index

if TYPE_CHECKING:
    from .archive import VisitSequenceArchive

FILE_TYPE_PREFIX = "briefing_"


@dataclass
class ArchivedBriefing:
    """A built briefing and the URL of each archived figure (figure name -> URL)."""

    briefing: Briefing
    urls: dict[str, str]


def archive_briefing(
    archive: VisitSequenceArchive, telescope: str, day_obs: str | int | dt.date
) -> ArchivedBriefing:
    """Build the briefing of ``day_obs``, archive its figures next to the nominal simulation and
    rewrite the snapshots of the nights that simulation covers."""
    from .readers import ArchiveReader

    night = parse_dayobs(day_obs)
    briefing = build_briefing(ArchiveReader.for_archive(archive), night, telescope)
    urls = {}
    for name, png in briefing.figures.items():
        urls[name] = archive.archive_file(
            briefing.uuid,
            png,
            f"{FILE_TYPE_PREFIX}{name}",
            name=f"{FILE_TYPE_PREFIX}{name}.png",
            update=True,
        )
    first, last = briefing.nominal["first_day_obs"], briefing.nominal["last_day_obs"]
    for offset in range((last - first).days + 1):
        write_prenight_index(archive, first + dt.timedelta(days=offset), telescope)
    return ArchivedBriefing(briefing, urls)
