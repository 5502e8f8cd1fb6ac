"""A corpus of bad inputs through the API, the ``vseqarchive`` commands and the Dagster assets.

Every input gets one clear error (a ``VseqError`` from the API, one ``vseqarchive: error:`` line
on stderr and a non-zero exit from the CLI, a failed step that is not retried from Dagster) and
writes nothing: the row count of every archive table and the listing of the store are the same
before and after. SQL carried by tags, labels and comments that are otherwise valid is stored as
the text it is (``test_sql_text_is_data``), never executed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from dagster import DagsterEventType

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.consdb.ingestion import NightIngestion
from vseq_resources.dagster_resources import ArchiveResource, ConsDBResource
from vseq_resources.dayobs import parse_dayobs
from vseq_resources.errors import VseqError
from vseq_resources.visits import write_visits_h5
from vseq_tests.assets.helpers import materialize_night
from vseq_tests.reliability.support import small_visits, snapshot

NIGHT = "2026-04-11"
SQL = "x'); DROP TABLE visitseq; --"
HUGE = "L" * 1_000_000
NOT_UTF8 = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # what argv gives for Latin-1 bytes


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    good = write_visits_h5(d / "good.h5", small_visits(NIGHT, 30))
    files = {"good": good}
    files["corrupt_h5"] = d / "corrupt.h5"
    files["corrupt_h5"].write_bytes(np.random.default_rng(0).bytes(20_000))
    files["truncated_h5"] = d / "truncated.h5"
    files["truncated_h5"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["no_observations_key"] = d / "nokey.h5"
    small_visits(NIGHT).to_hdf(files["no_observations_key"], key="visits")
    for name, change in {
        "string_mjd": lambda f: f.assign(observationStartMJD=f["observationStartMJD"].astype(str)),
        "nan_mjd": lambda f: f.assign(
            observationStartMJD=np.where(f.index == 3, np.nan, f["observationStartMJD"])
        ),
        "jd_not_mjd": lambda f: f.assign(observationStartMJD=f["observationStartMJD"] + 2400000.5),
        "no_mjd_column": lambda f: f.drop(columns=["observationStartMJD"]),
    }.items():
        files[name] = d / f"{name}.h5"
        change(small_visits(NIGHT)).to_hdf(files[name], key="observations", format="fixed")
    files["corrupt_db"] = d / "corrupt.db"
    files["corrupt_db"].write_bytes(b"SQLite format 3\x00" + bytes(5000))
    files["no_observations_db"] = d / "noobs.db"
    with sqlite3.connect(files["no_observations_db"]) as conn:
        pd.DataFrame({"Parameter": ["a"], "Value": ["b"]}).to_sql("info", conn, index=False)
    conn.close()
    files["hash_sign.txt"] = d / "notes#1.txt"
    files["hash_sign.txt"].write_text("a name with a URL fragment sign")
    return files


@pytest.fixture
def seeded(file_archive: VisitSequenceArchive) -> tuple[VisitSequenceArchive, Any, Any]:
    """An archive holding one stored sequence and one metadata-only sequence."""
    stored = file_archive.record_sequence(
        "simulations", small_visits(NIGHT), label="good", telescope="simonyi"
    )
    bare = file_archive.record_sequence(
        "simulations", small_visits(NIGHT), label="metadata only", telescope="simonyi", store_visits=False
    )
    return file_archive, stored.uuid, bare.uuid


def _frame(name: str) -> pd.DataFrame:
    f = small_visits(NIGHT)
    return {
        "no_mjd_column": lambda: f.drop(columns=["observationStartMJD"]),
        "string_mjd": lambda: f.assign(observationStartMJD=f["observationStartMJD"].astype(str)),
        "nan_mjd": lambda: f.assign(
            observationStartMJD=np.where(f.index == 3, np.nan, f["observationStartMJD"])
        ),
        "inf_mjd": lambda: f.assign(observationStartMJD=np.inf),
        "jd_not_mjd": lambda: f.assign(observationStartMJD=f["observationStartMJD"] + 2400000.5),
        "negative_mjd": lambda: f.assign(observationStartMJD=-1.0),
        "bytes_column": lambda: f.assign(band=[b"r"] * len(f)),
        "list_column": lambda: f.assign(band=[["r"]] * len(f)),
    }[name]()


def _record(a: VisitSequenceArchive, visits: Any = None, **kw: Any) -> Any:
    args = {"label": "bad input", "telescope": "simonyi"}
    args.update(kw)
    return a.record_sequence(
        "simulations" if "table" not in kw else args.pop("table"),
        small_visits(NIGHT) if visits is None else visits,
        **args,
    )


API_CASES: dict[str, Callable[[VisitSequenceArchive, Any, Any, dict[str, Path]], Any]] = {
    "visits not a table": lambda a, s, b, f: _record(a, visits="observations"),
    "no MJD column": lambda a, s, b, f: _record(a, _frame("no_mjd_column")),
    "MJD as text": lambda a, s, b, f: _record(a, _frame("string_mjd")),
    "NaN MJD": lambda a, s, b, f: _record(a, _frame("nan_mjd")),
    "infinite MJD": lambda a, s, b, f: _record(a, _frame("inf_mjd")),
    "JD given as MJD": lambda a, s, b, f: _record(a, _frame("jd_not_mjd")),
    "negative MJD": lambda a, s, b, f: _record(a, _frame("negative_mjd")),
    "bytes in a text column": lambda a, s, b, f: _record(a, _frame("bytes_column")),
    "lists in a text column": lambda a, s, b, f: _record(a, _frame("list_column")),
    "invalid dayobs": lambda a, s, b, f: _record(a, first_day_obs="2025-02-30"),
    "dayobs text": lambda a, s, b, f: _record(a, last_day_obs="tonight"),
    "first after last": lambda a, s, b, f: _record(a, first_day_obs="2026-04-12", last_day_obs="2026-04-11"),
    "telescope with SQL": lambda a, s, b, f: _record(a, telescope=f"simonyi{SQL}"),
    "table with SQL": lambda a, s, b, f: _record(a, table="visitseq; DROP TABLE tags"),
    "column with SQL": lambda a, s, b, f: _record(a, **{"query = 'x'; --": "1"}),
    "huge label": lambda a, s, b, f: _record(a, label=HUGE),
    "empty label": lambda a, s, b, f: _record(a, label="  "),
    "label with NUL": lambda a, s, b, f: _record(a, label="nul\x00byte"),
    "non-UTF-8 label": lambda a, s, b, f: _record(a, label=NOT_UTF8),
    "naive creation time": lambda a, s, b, f: _record(a, creation_time=dt.datetime(2026, 4, 11, 12)),
    "creation time in year 1": lambda a, s, b, f: _record(
        a, creation_time=dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    ),
    "creation time field in year 1": lambda a, s, b, f: a.metadata.update_metadata(
        s, "creation_time", "0001-01-01T00:00:00+00:00"
    ),
    "stats of no existing column": lambda a, s, b, f: a.add_nightly_stats(
        s, small_visits(NIGHT), columns=["nosuchcolumn"]
    ),
    "file name with ..": lambda a, s, b, f: _record(a, files={"../../escape.txt": b"x"}),
    "file name with /": lambda a, s, b, f: _record(a, files={"sub/dir.txt": b"x"}),
    "file name ..": lambda a, s, b, f: _record(a, files={"..": b"x"}),
    "file name with #": lambda a, s, b, f: _record(a, files={"a#b.txt": b"x"}),
    "extra table key with path": lambda a, s, b, f: _record(
        a, extra_tables={"../info": pd.DataFrame({"a": [1]})}
    ),
    "tag with SQL and spaces": lambda a, s, b, f: a.tag(s, "x'; DELETE FROM tags; --"),
    "tag on a UUID with SQL": lambda a, s, b, f: a.tag("1; DROP TABLE visitseq", "ok"),
    "huge tag": lambda a, s, b, f: a.tag(s, "t" * 10_000),
    "non-UTF-8 comment": lambda a, s, b, f: a.comment(s, NOT_UTF8),
    "huge comment": lambda a, s, b, f: a.comment(s, HUGE),
    "field name with SQL": lambda a, s, b, f: a.metadata.update_metadata(s, "visitseq_label = 'x' --", "y"),
    "field: the UUID": lambda a, s, b, f: a.metadata.update_metadata(s, "visitseq_uuid", str(b)),
    "hash field not hex": lambda a, s, b, f: a.metadata.update_metadata(s, "visitseq_sha256", "zz"),
    "archive corrupt visits.h5": lambda a, s, b, f: a.archive_file(b, f["corrupt_h5"], "visits"),
    "archive truncated visits.h5": lambda a, s, b, f: a.archive_file(b, f["truncated_h5"], "visits"),
    "archive h5 without observations": lambda a, s, b, f: a.archive_file(
        b, f["no_observations_key"], "visits"
    ),
    "archive h5 with NaN MJD": lambda a, s, b, f: a.archive_file(b, f["nan_mjd"], "visits"),
    "archive corrupt opsim db": lambda a, s, b, f: a.archive_file(b, f["corrupt_db"], "visits"),
    "archive opsim db without observations": lambda a, s, b, f: a.archive_file(
        b, f["no_observations_db"], "visits"
    ),
    "archive file named with #": lambda a, s, b, f: a.archive_file(s, f["hash_sign.txt"], "notes"),
    "stats of a text column": lambda a, s, b, f: a.add_nightly_stats(
        s, small_visits(NIGHT), columns=["band"]
    ),
    "unknown sequence": lambda a, s, b, f: a.tag("00000000-0000-4000-8000-000000000000", "x"),
}


def test_api_bad_inputs(seeded: tuple, bad_files: dict[str, Path]) -> None:
    archive, stored, bare = seeded
    before = snapshot(archive)
    failures = []
    for name, case in API_CASES.items():
        try:
            case(archive, stored, bare, bad_files)
        except VseqError as err:
            text = str(err)
            if not text or "\n" in text or len(text) > 2000:
                failures.append(f"{name}: unclear message {text[:300]!r}")
        except Exception as err:  # noqa: BLE001 - anything but a VseqError is a defect
            failures.append(f"{name}: {type(err).__name__}: {str(err)[:300]}")
        else:
            failures.append(f"{name}: accepted")
        if snapshot(archive) != before:
            failures.append(f"{name}: wrote something")
            before = snapshot(archive)
    assert not failures, "\n".join(failures)
    assert len(API_CASES) >= 25


CLI_CASES: dict[str, Callable[[str, str, dict[str, Path]], list[str]]] = {
    "corrupt visits.h5": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["corrupt_h5"]),
        "x",
    ],
    "truncated visits.h5": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["truncated_h5"]),
        "x",
    ],
    "no observations key": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["no_observations_key"]),
        "x",
    ],
    "MJD as text": lambda s, b, f: ["record-visitseq-metadata", "simulations", str(f["string_mjd"]), "x"],
    "NaN MJD": lambda s, b, f: ["record-visitseq-metadata", "simulations", str(f["nan_mjd"]), "x"],
    "JD given as MJD": lambda s, b, f: ["record-visitseq-metadata", "simulations", str(f["jd_not_mjd"]), "x"],
    "no MJD column": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["no_mjd_column"]),
        "x",
    ],
    "missing file": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        "/nonexistent/visits.h5",
        "x",
    ],
    "invalid dayobs": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["good"]),
        "x",
        "--first_day_obs",
        "2025-02-30",
    ],
    "telescope with SQL": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["good"]),
        "x",
        "--telescope",
        f"simonyi{SQL}",
    ],
    "table with SQL": lambda s, b, f: [
        "record-visitseq-metadata",
        "visitseq; DROP TABLE tags",
        str(f["good"]),
        "x",
    ],
    "non-UTF-8 label": lambda s, b, f: ["record-visitseq-metadata", "simulations", str(f["good"]), NOT_UTF8],
    "huge label": lambda s, b, f: ["record-visitseq-metadata", "simulations", str(f["good"]), "L" * 100_000],
    "bad creation time": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["good"]),
        "x",
        "--creation_time",
        "yesterday",
    ],
    "creation time in year 1 (OverflowError before)": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["good"]),
        "x",
        "--creation_time",
        "0001-01-01",
    ],
    "creation time past year 9999 in UTC": lambda s, b, f: [
        "record-visitseq-metadata",
        "simulations",
        str(f["good"]),
        "x",
        "--creation_time",
        "9999-12-31T23:00-05:00",
    ],
    "creation time field in year 1": lambda s, b, f: [
        "update-visitseq-metadata",
        s,
        "creation_time",
        "0001-01-01",
    ],
    "stats of a column the visits lack (exit 0, nothing stored before)": lambda s, b, f: [
        "add-nightly-stats",
        s,
        str(f["good"]),
        "nosuchcolumn",
    ],
    "invalid UUID": lambda s, b, f: ["tag", "not-a-uuid", "x"],
    "UUID with SQL": lambda s, b, f: ["tag", f"{s}'; DROP TABLE tags; --", "x"],
    "tag with SQL and spaces": lambda s, b, f: ["tag", s, "x'; DELETE FROM tags; --"],
    "empty comment": lambda s, b, f: ["comment", s, ""],
    "non-UTF-8 comment": lambda s, b, f: ["comment", s, NOT_UTF8],
    "field name with SQL": lambda s, b, f: [
        "update-visitseq-metadata",
        s,
        "visitseq_label; DROP TABLE tags",
        "x",
    ],
    "hash not hex": lambda s, b, f: ["update-visitseq-metadata", s, "visitseq_sha256", "zz"],
    "dayobs field not a date": lambda s, b, f: ["update-visitseq-metadata", s, "first_day_obs", "soon"],
    "archive corrupt opsim db": lambda s, b, f: ["archive-file", b, str(f["corrupt_db"]), "visits"],
    "archive db without observations": lambda s, b, f: [
        "archive-file",
        b,
        str(f["no_observations_db"]),
        "visits",
    ],
    "archive corrupt visits.h5": lambda s, b, f: ["archive-file", b, str(f["corrupt_h5"]), "visits"],
    "archive file named with #": lambda s, b, f: ["archive-file", s, str(f["hash_sign.txt"]), "notes"],
    "stats of a text column": lambda s, b, f: ["add-nightly-stats", s, str(f["good"]), "band"],
    "stats from a corrupt file": lambda s, b, f: ["add-nightly-stats", s, str(f["corrupt_h5"])],
}


def test_cli_bad_inputs(seeded: tuple, bad_files: dict[str, Path], pg_url: str) -> None:
    archive, stored, bare = seeded
    env = {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": str(archive.store.base),
    }
    before = snapshot(archive)
    failures = []
    for name, case in CLI_CASES.items():
        result = CliRunner().invoke(
            cli, case(str(stored), str(bare), bad_files), env=env, catch_exceptions=False
        )
        lines = result.stderr.splitlines()
        if result.exit_code == 0:
            failures.append(f"{name}: accepted")
        elif (
            len(lines) != 1 or not lines[0].startswith("vseqarchive: error:") or "internal error" in lines[0]
        ):
            failures.append(f"{name}: exit {result.exit_code}, stderr {result.stderr[:300]!r}")
        if result.stdout:
            failures.append(f"{name}: printed {result.stdout[:200]!r}")
        if snapshot(archive) != before:
            failures.append(f"{name}: wrote something")
            before = snapshot(archive)
    assert not failures, "\n".join(failures)
    assert len(CLI_CASES) >= 25


class BadConsDB(ConsDBResource):
    """A ConsDB that answers with broken visits (the bad input of the assets)."""

    case: str

    def night_query(self, telescope: str, day_obs: Any) -> str:
        return "SELECT 'bad input test'"

    def night_ingestion(self, telescope: str, day_obs: Any) -> NightIngestion:
        night = parse_dayobs(day_obs)  # ingested: the broken visits are what it holds
        return NightIngestion(instrument="lsstcam", day_obs=night, exposures=1, latest_day_obs=night)

    def night_opsim_visits(self, telescope: str, day_obs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        frame = _frame(self.case)
        return frame, frame


@pytest.mark.parametrize(
    "case", ["nan_mjd", "jd_not_mjd", "no_mjd_column", "string_mjd", "bytes_column", "bad_schema"]
)
def test_asset_bad_inputs(case: str, file_archive: VisitSequenceArchive, pg_url: str) -> None:
    resource = ArchiveResource(
        database_url=pg_url,
        db_schema="vsmd; DROP SCHEMA public" if case == "bad_schema" else file_archive.metadata.schema,
        archive_uri=str(file_archive.store.base),
    )
    consdb = BadConsDB(case="nan_mjd" if case == "bad_schema" else case)
    before = snapshot(file_archive)
    result = materialize_night(
        "simonyi", "2025-10-05", {"archive": resource, "consdb": consdb}, raise_on_error=False
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1
    # The cause is a deliberate vseq error with a one-line message (raised as is by the ConsDB
    # step, wrapped in a non-retryable Failure by the archive step).
    causes, error = [], failures[0].step_failure_data.error
    while error is not None:
        causes.append((error.cls_name, error.message.strip()))
        error = error.cause
    vseq = [
        (cls, msg) for cls, msg in causes if cls in ("InvalidInputError", "ConfigurationError", "DayobsError")
    ]
    assert vseq, causes
    assert "\n" not in vseq[0][1]
    assert not any(e.event_type == DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)
    assert snapshot(file_archive) == before, causes


def test_sql_text_is_data(file_archive: VisitSequenceArchive) -> None:
    """Valid tags, labels, comments and authors carrying SQL are stored verbatim, never run."""
    tag = "x');DELETE/**/FROM/**/tags;--"
    seq = file_archive.record_sequence(
        "simulations",
        small_visits(NIGHT),
        label=SQL,
        telescope="simonyi",
        tags=[tag],
        comments=[(SQL, f"{SQL} % _ \\ ' \"")],
        scheduler_version=SQL,
    )
    assert file_archive.get_metadata(seq.uuid)["visitseq_label"] == SQL
    assert file_archive.metadata.get_tags(seq.uuid) == [tag]
    comments = file_archive.metadata.get_comments(seq.uuid)
    assert comments["comment"].tolist() == [f"{SQL} % _ \\ ' \""] and comments["author"].tolist() == [SQL]
    assert file_archive.metadata.search(label=SQL)["visitseq_uuid"].tolist() == [seq.uuid]
    assert file_archive.metadata.search(label="%").empty  # LIKE wildcards are literal
    assert file_archive.metadata.search(tags=[tag])["visitseq_uuid"].tolist() == [seq.uuid]
    assert file_archive.metadata.search(tags=["x' OR '1'='1"]).empty
