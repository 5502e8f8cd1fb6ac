"""The one verified read path: a stored visits file changed in the store is refused by every
public read path before a byte of it is parsed, on ``file://`` and ``s3://``.

The tampered file carries a harmless pickled payload that creates a marker directory when the
file is parsed (PyTables unpickles attributes): each read path must raise `IntegrityError`
naming the sequence, and the marker must not exist afterwards. Files without a recorded checksum
are read with a warning that can be made an error, and ``verify --repair`` records one.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.completed_history import gather_completed_visits
from vseq_resources.config import ArchiveSettings
from vseq_resources.errors import IntegrityError
from vseq_resources.prenight_index import write_prenight_index
from vseq_resources.proto import export_proto
from vseq_resources.readers import ArchiveReader, load_partition
from vseq_resources.store import UnverifiedFileError, UnverifiedFileWarning
from vseq_tests.resources.readers_support import record_sim, sim_visits
from vseq_tests.tamper import payload_runs, plant_payload

NIGHT = "2026-04-11"
COMPLETED_NIGHT = "2026-04-10"
NOW = dt.datetime(2026, 4, 11, 20, 0, tzinfo=dt.UTC)


@dataclass
class Archived:
    archive: VisitSequenceArchive
    settings: ArchiveSettings
    pg_url: str
    sim: str
    completed: str
    workdir: Path

    def reader(self, **options: Any) -> ArchiveReader:
        return ArchiveReader(self.pg_url, self.settings.schema, self.settings.index_uri, **options)

    def env(self) -> dict[str, str]:
        return {
            "VSEQ_DATABASE_URL": self.pg_url,
            "VSARCHIVE_PGSCHEMA": self.settings.schema,
            "VSEQ_ARCHIVE_URI": self.settings.store_uri,
            "VSEQ_PRENIGHT_INDEX_URI": self.settings.index_uri,
            "VSEQ_STATE_DIR": str(self.workdir / "state"),
        }


@pytest.fixture
def archive_store(store_base: str) -> str:
    """Both store kinds."""
    return store_base


@pytest.fixture
def archived(
    archive: VisitSequenceArchive, archive_settings: ArchiveSettings, pg_url: str, tmp_path: Path
) -> Archived:
    """A pre-night simulation of NIGHT and a completed sequence of COMPLETED_NIGHT, with the
    night's index snapshot, in a store of each kind."""
    settings = archive_settings
    sim = record_sim(archive, "nominal", [NIGHT, "2026-04-12"], created="2026-04-11T14:00:00+00:00")
    completed = archive.record_sequence(
        "completed", sim_visits([COMPLETED_NIGHT], 25), label="done", telescope="simonyi", query="SELECT 1"
    )
    write_prenight_index(archive, NIGHT, "simonyi")
    return Archived(archive, settings, pg_url, sim, str(completed.uuid), tmp_path)


def _cli(a: Archived, *args: str) -> None:
    result = CliRunner().invoke(cli, list(args), env=a.env())
    if result.exit_code == 0:
        raise AssertionError(f"vseqarchive {' '.join(args)} succeeded on a tampered file")
    raise IntegrityError(result.stderr or str(result.exception))


def _with_reader(a: Archived, read: Callable[[ArchiveReader], Any]) -> Any:
    with a.reader() as reader:
        return read(reader)


# Every public read path of a simulation's visits, and of a completed night's visits.
SIM_READ_PATHS: dict[str, Callable[[Archived], Any]] = {
    "archive.get_visits": lambda a: a.archive.get_visits(a.sim),
    "archive.get_visits(nights)": lambda a: a.archive.get_visits(a.sim, nights=[NIGHT]),
    "archive.get_file(.h5)": lambda a: a.archive.get_file(a.sim, "visits", a.workdir / "copy.h5"),
    "archive.get_file(.db)": lambda a: a.archive.get_file(a.sim, "visits", a.workdir / "copy.db"),
    "cli get-visits": lambda a: _cli(a, "get-visits", a.sim, str(a.workdir / "out.parquet")),
    "cli get-file visits": lambda a: _cli(a, "get-file", a.sim, "visits", str(a.workdir / "out.db")),
    "export-proto": lambda a: export_proto(a.archive, a.sim, (a.workdir / "proto").as_uri()),
    "ArchiveReader.visits": lambda a: _with_reader(a, lambda r: r.visits(a.sim)),
    "ArchiveReader.visits_for_nights": lambda a: _with_reader(
        a, lambda r: r.visits_for_nights(NIGHT, "2026-04-12", now=NOW)
    ),
    "ArchiveReader.visits(latest_simulation)": lambda a: _with_reader(
        a, lambda r: r.visits(r.latest_simulation(NIGHT, now=NOW), [NIGHT])
    ),
    "load_partition prenight_sims": lambda a: _with_reader(
        a, lambda r: load_partition("simonyi/prenight_sims", NIGHT, reader=r)
    ),
}
COMPLETED_READ_PATHS: dict[str, Callable[[Archived], Any]] = {
    "archive.get_visits": lambda a: a.archive.get_visits(a.completed),
    "ArchiveReader.completed_visits": lambda a: _with_reader(
        a, lambda r: r.completed_visits("simonyi", COMPLETED_NIGHT)
    ),
    "load_partition completed_visits": lambda a: _with_reader(
        a, lambda r: load_partition("simonyi/completed_visits", COMPLETED_NIGHT, reader=r)
    ),
    "load_partition consdb_visits": lambda a: _with_reader(
        a, lambda r: load_partition(["simonyi", "consdb_visits"], COMPLETED_NIGHT, reader=r)
    ),
    "completed history": lambda a: gather_completed_visits(a.archive, "simonyi", dt.date(2026, 4, 11)),
    "completed history (cached)": lambda a: gather_completed_visits(
        a.archive, "simonyi", dt.date(2026, 4, 11), cache_dir=a.workdir / "cache"
    ),
}


def _refused(archived: Archived, sequence: str, read: Callable[[Archived], Any]) -> None:
    url, _ = archived.archive.metadata.get_visits_file(sequence)
    marker = archived.workdir / "payload-ran"
    plant_payload(url, marker)
    assert payload_runs(url, marker), "the planted payload must run when the file is parsed"
    with pytest.raises(IntegrityError, match=rf"refusing to read|{sequence}") as raised:
        read(archived)
    assert sequence in str(raised.value) and "SHA-256" in str(raised.value)
    assert not marker.exists(), "the tampered file was parsed before its checksum was checked"


@pytest.mark.parametrize("path", list(SIM_READ_PATHS))
def test_every_simulation_read_path_refuses_a_tampered_file(archived: Archived, path: str) -> None:
    _refused(archived, archived.sim, SIM_READ_PATHS[path])


@pytest.mark.parametrize("path", list(COMPLETED_READ_PATHS))
def test_every_completed_read_path_refuses_a_tampered_file(archived: Archived, path: str) -> None:
    _refused(archived, archived.completed, COMPLETED_READ_PATHS[path])


def _forget_checksum(archived: Archived, sequence: str) -> str:
    """Make the sequence's visits look like production wrote them: no recorded checksum."""
    url, _ = archived.archive.metadata.get_visits_file(sequence)
    with archived.archive.metadata.transaction() as conn:
        conn.execute(sa.text("DELETE FROM file_checksums WHERE file_url = :url"), {"url": url})
    return url


def test_file_without_checksum_warns_and_can_be_refused(archived: Archived) -> None:
    _forget_checksum(archived, archived.sim)
    with pytest.warns(UnverifiedFileWarning, match=archived.sim):
        assert len(archived.archive.get_visits(archived.sim)) == 120
    with pytest.raises(UnverifiedFileError, match=archived.sim):
        archived.archive.get_visits(archived.sim, require_checksum=True)
    with a_reader(archived, require_checksum=True) as reader, pytest.raises(UnverifiedFileError):
        reader.visits(archived.sim)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedFileWarning)
        with pytest.raises(UnverifiedFileWarning):
            load_partition("simonyi/prenight_sims", NIGHT, reader=archived.reader())


def test_verify_repair_records_the_missing_checksum(archived: Archived) -> None:
    url = _forget_checksum(archived, archived.sim)
    report = archived.archive.verify()
    assert [ref.url for ref in report.unchecked] == [url] and not report.recorded
    repaired = archived.archive.verify(repair=True)
    assert [ref.url for ref in repaired.recorded] == [url] and not repaired.unchecked
    assert any(line.startswith("RECORDED") for line in repaired.lines())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedFileWarning)
        assert len(archived.archive.get_visits(archived.sim, require_checksum=True)) == 120
    # From now on the file is verified: a change is refused.
    _refused(archived, archived.sim, SIM_READ_PATHS["archive.get_visits"])


def test_verify_repair_from_the_command_line(archived: Archived) -> None:
    url = _forget_checksum(archived, archived.sim)
    result = CliRunner().invoke(cli, ["verify", "--repair"], env=archived.env())
    assert result.exit_code == 0, result.output
    assert f"RECORDED {url}" in result.stdout
    assert archived.archive.metadata.get_visits_file(uuidlib.UUID(archived.sim))[1] is not None


def a_reader(archived: Archived, **options: Any) -> ArchiveReader:
    return archived.reader(**options)
