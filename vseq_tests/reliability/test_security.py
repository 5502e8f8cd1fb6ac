"""Production-like roles, secrets that never leak, and query options that cannot run code.

Roles (created in the test server; 127.0.0.1 and the embedded server use trust authentication,
so a test connects as a role by naming it in the URL):

- reader: ``USAGE`` on the schema, ``SELECT`` on its tables (production ``reader``);
- writer: ``SELECT, INSERT, UPDATE``, no ``DELETE`` (production ``writer``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from dagster import DagsterInstance, EnvVar, materialize

from vseq_assets.completed import completed_sequence_assets
from vseq_assets.consdb import consdb_visits_asset
from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.config import ArchiveSettings
from vseq_resources.consdb.rest_server import local_rest_server
from vseq_resources.dagster_resources import ArchiveResource, RestConsDBResource, SqlConsDBResource
from vseq_resources.errors import ConfigurationError, PermissionDeniedError
from vseq_resources.metadata.database import MetadataDatabase
from vseq_tests import services
from vseq_tests.reliability.conftest import BACKFILL_NIGHTS
from vseq_tests.reliability.support import VSEQARCHIVE, small_visits, snapshot, subprocess_env

NIGHT = "2026-04-11"


@pytest.fixture
def roles(pg_url: str, file_archive: VisitSequenceArchive) -> Iterator[dict[str, str]]:
    """reader and writer roles on the archive's schema; their URLs."""
    schema = file_archive.metadata.schema
    with services.archive_roles(pg_url, schema, "vseq", grant_sequences=True) as names:
        yield {role: services.role_url(pg_url, name) for role, name in names.items()} | {"names": names}  # type: ignore[operator]


def _as(url: str, archive: VisitSequenceArchive) -> VisitSequenceArchive:
    return VisitSequenceArchive(MetadataDatabase.from_url(url, archive.metadata.schema), archive.store)


def test_writer_role_every_normal_write(
    roles: dict, file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path
) -> None:
    writer = _as(roles["writer"], file_archive)
    seq = writer.record_sequence(
        "simulations",
        small_visits(NIGHT),
        label="by the writer",
        telescope="simonyi",
        files={"notes.txt": b"n"},
        tags=["prenight"],
        comments=[("w", "hello")],
        conda_env_sha256=writer.record_package_environment([{"name": "x", "version": "1"}]),
    )
    writer.tag(seq.uuid, "ideal", "nominal", "prenight")
    writer.comment(seq.uuid, "second", author="w")
    writer.add_nightly_stats(seq.uuid, small_visits(NIGHT), columns=["altitude"])
    writer.metadata.update_metadata(seq.uuid, "visitseq_label", "renamed by the writer")
    bare = writer.record_sequence(
        "completed",
        small_visits(NIGHT),
        label="metadata first",
        telescope="simonyi",
        store_visits=False,
        query="SELECT 1",
    )
    visits_file = tmp_path / "visits.h5"
    from vseq_resources.visits import write_visits_h5

    write_visits_h5(visits_file, small_visits(NIGHT))
    writer.archive_file(bare.uuid, visits_file, "visits")
    writer.archive_file(seq.uuid, b"v2", "notes", name="notes.txt", update=True)
    assert writer.verify(grace=dt.timedelta(0)).ok
    assert len(writer.get_visits(bare.uuid)) == 20

    # untag needs DELETE, which production writers lack: one clear error, nothing removed.
    with pytest.raises(PermissionDeniedError, match="permission denied for table tags") as err:
        writer.untag(seq.uuid, "ideal")
    assert roles["names"]["writer"] in str(err.value) and "\n" not in str(err.value)
    assert writer.is_tagged(seq.uuid, "ideal")
    # The grant pattern of docs/reliability.md: DELETE on tags only.
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(f'GRANT DELETE ON "{file_archive.metadata.schema}".tags TO "{roles["names"]["writer"]}"')
        )
    admin.dispose()
    writer.untag(seq.uuid, "ideal")
    assert not writer.is_tagged(seq.uuid, "ideal")
    writer.metadata.close()


def test_writer_role_runs_the_pipeline(
    roles: dict, file_archive: VisitSequenceArchive, consdb_url: str
) -> None:
    resource = ArchiveResource(
        database_url=roles["writer"],
        db_schema=file_archive.metadata.schema,
        archive_uri=str(file_archive.store.base),
    )
    result = materialize(
        [consdb_visits_asset("simonyi"), completed_sequence_assets("simonyi")],
        partition_key=BACKFILL_NIGHTS[3],
        resources={"archive": resource, "consdb": SqlConsDBResource(url=consdb_url)},
    )
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())


def test_reader_role_cannot_write(
    roles: dict, file_archive: VisitSequenceArchive, pg_url: str, tmp_path: Path
) -> None:
    seq = file_archive.record_sequence(
        "simulations", small_visits(NIGHT), label="existing", telescope="simonyi", tags=["prenight"]
    )
    reader = _as(roles["reader"], file_archive)
    before = snapshot(file_archive)
    writes = {
        "record_sequence": lambda: reader.record_sequence(
            "simulations", small_visits(NIGHT), label="x", telescope="simonyi", files={"a.txt": b"a"}
        ),
        "record metadata only": lambda: reader.record_sequence(
            "simulations", small_visits(NIGHT), label="x", telescope="simonyi", store_visits=False
        ),
        "tag": lambda: reader.tag(seq.uuid, "ideal"),
        "untag": lambda: reader.untag(seq.uuid, "prenight"),
        "comment": lambda: reader.comment(seq.uuid, "no"),
        "update": lambda: reader.metadata.update_metadata(seq.uuid, "visitseq_label", "no"),
        "set url": lambda: reader.metadata.set_visitseq_url(seq.uuid, "file:///elsewhere/visits.h5"),
        "archive_file": lambda: reader.archive_file(seq.uuid, b"x", "notes", name="notes.txt"),
        "nightly stats": lambda: reader.add_nightly_stats(seq.uuid, small_visits(NIGHT)),
        "conda env": lambda: reader.record_package_environment([{"name": "x", "version": "2"}]),
    }
    for name, write in writes.items():
        with pytest.raises(PermissionDeniedError, match="permission denied") as err:
            write()
        assert "\n" not in str(err.value), name
        assert snapshot(file_archive) == before, f"{name} wrote something"
    # Reading works.
    assert reader.get_metadata(seq.uuid)["visitseq_label"] == "existing"
    assert len(reader.get_visits(seq.uuid)) == 20
    assert reader.verify(grace=dt.timedelta(0)).ok
    reader.metadata.close()

    # The CLI gives the same one line.
    env = subprocess_env(
        {
            "VSEQ_DATABASE_URL": roles["reader"],
            "VSARCHIVE_PGSCHEMA": file_archive.metadata.schema,
            "VSEQ_ARCHIVE_URI": str(file_archive.store.base),
        }
    )
    done = subprocess.run(
        [VSEQARCHIVE, "tag", str(seq.uuid), "ideal"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert (
        done.stderr.startswith("vseqarchive: error: the metadata database")
        and "permission denied" in done.stderr
    )


# -- secrets ----------------------------------------------------------------------------------------


def test_no_secret_anywhere(
    s3_server,
    pg_url: str,
    db_schema: str,
    s3_base: str,
    consdb_url: str,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    markers = {
        "PGPASSWORD": f"pg-secret-{uuid.uuid4().hex}",
        "VSEQ_CONSDB_TOKEN": f"rest-token-{uuid.uuid4().hex}",
        "VSEQ_CONSDB_PASSWORD": f"consdb-secret-{uuid.uuid4().hex}",
    }
    for name, value in markers.items():
        monkeypatch.setenv(name, value)
    secrets = [*markers.values(), s3_server.env["AWS_SECRET_ACCESS_KEY"]]
    index_base = s3_base.replace("/opsim/vseq/", "/opsim/prenight_index/")
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    # The pipeline: two nights, ConsDB through REST (token) and SQL (password), store on S3.
    (tmp_path / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster"))
    archive = ArchiveResource(
        database_url=pg_url,
        db_schema=db_schema,
        archive_uri=s3_base,
        prenight_index_uri=index_base,
        migrate=True,
    )
    engine = sa.create_engine(consdb_url)
    with local_rest_server(engine, markers["VSEQ_CONSDB_TOKEN"]) as rest_url:
        for night, consdb in (
            (BACKFILL_NIGHTS[4], RestConsDBResource(base_url=rest_url, token=EnvVar("VSEQ_CONSDB_TOKEN"))),
            (BACKFILL_NIGHTS[5], SqlConsDBResource(url=consdb_url, password=EnvVar("VSEQ_CONSDB_PASSWORD"))),
        ):
            result = materialize(
                [
                    consdb_visits_asset("simonyi"),
                    completed_sequence_assets("simonyi"),
                ],
                partition_key=night,
                resources={"archive": archive, "consdb": consdb},
                instance=instance,
            )
            assert result.success
    engine.dispose()
    from dagster import serialize_value

    for run in instance.get_runs():
        texts.append(json.dumps(run.run_config, default=str) + json.dumps(run.tags))
        texts.extend(serialize_value(entry) for entry in instance.all_logs(run.run_id))

    # The commands, as real processes: writes, reads, the index snapshot, and failures.
    vsa = archive.open()
    vsa.record_sequence(
        "simulations",
        small_visits(NIGHT),
        label="prenight",
        telescope="simonyi",
        tags=["prenight", "ideal", "nominal"],
        creation_time=dt.datetime.now(dt.UTC),
    )
    env = subprocess_env(
        {
            "VSEQ_DATABASE_URL": pg_url,
            "VSARCHIVE_PGSCHEMA": db_schema,
            "VSEQ_ARCHIVE_URI": s3_base,
            "VSEQ_PRENIGHT_INDEX_URI": index_base,
            **markers,
            **s3_server.env,
        }
    )
    commands = [
        ["make-prenight-index", NIGHT, "simonyi"],
        ["search", "--json"],
        ["verify"],
        ["record-visitseq-metadata", "simulations", "/nonexistent.h5", "x"],
        ["tag", str(uuid.UUID(int=5)), "x"],
    ]
    outputs = [
        subprocess.run([VSEQARCHIVE, *c], env=env, capture_output=True, text=True, timeout=120)
        for c in commands
    ]
    index_url = outputs[0].stdout.strip()
    assert outputs[0].returncode == 0 and index_url.endswith(f"simonyi_prenights_for_{NIGHT}.json"), outputs[
        0
    ].stderr
    texts.append(vsa.store.read_bytes(index_url).decode())
    for bad_env in (
        {
            "VSEQ_DATABASE_URL": f"postgresql+psycopg2://u:{markers['PGPASSWORD']}@127.0.0.1:1/x"
        },  # refused: password in URL
        {"VSEQ_DATABASE_URL": "postgresql+psycopg2://someone@127.0.0.1:1/x"},  # unreachable, PGPASSWORD set
        {"VSEQ_DATABASE_URL": "", "VSARCHIVE_PGHOST": "127.0.0.1", "VSARCHIVE_PGPORT": "1"},
    ):
        outputs.append(
            subprocess.run(
                [VSEQARCHIVE, "search"], env={**env, **bad_env}, capture_output=True, text=True, timeout=120
            )
        )
        assert outputs[-1].returncode == 1 and outputs[-1].stderr.count("\n") == 1, outputs[-1].stderr
    texts.extend(o.stdout + o.stderr for o in outputs)

    # Configuration errors raised in Python do not echo the password either.
    for make in (
        lambda: (
            ArchiveSettings.from_env()
            if monkeypatch.setenv("VSEQ_DATABASE_URL", f"postgresql://u:{markers['PGPASSWORD']}@h/db") is None
            else None
        ),
        lambda: SqlConsDBResource(url=f"postgresql://u:{markers['VSEQ_CONSDB_PASSWORD']}@h/db").engine_url(),
        lambda: ArchiveResource(
            database_url=f"postgresql+psycopg2://u:{markers['PGPASSWORD']}@h/db"
        ).settings(),
    ):
        with pytest.raises(ConfigurationError) as err:
            make()
        texts.append(str(err.value))
    monkeypatch.delenv("VSEQ_DATABASE_URL")

    # Every metadata row.
    with vsa.metadata.transaction() as conn:
        for table in (
            "visitseq",
            "tags",
            "comments",
            "files",
            "file_checksums",
            "nightly_stats",
            "conda_env",
        ):
            texts.extend(conn.execute(sa.text(f"SELECT row_to_json(t)::text FROM {table} AS t")).scalars())
    vsa.metadata.close()

    captured = capfd.readouterr()
    texts += [captured.out, captured.err, caplog.text]
    blob = "\n".join(texts)
    assert len(blob) > 10_000  # really scanned something
    for secret in secrets:
        assert secret not in blob, f"a secret leaked: {secret[:6]}..."


# -- query options ------------------------------------------------------------------------------------


def test_query_options_are_data(file_archive: VisitSequenceArchive, pg_url: str) -> None:
    """``search`` and the other query options bind values; nothing is evaluated as code or SQL."""
    seq = file_archive.record_sequence(
        "simulations", small_visits(NIGHT), label="plain", telescope="simonyi", tags=["prenight"]
    )
    env = subprocess_env(
        {
            "VSEQ_DATABASE_URL": pg_url,
            "VSARCHIVE_PGSCHEMA": file_archive.metadata.schema,
            "VSEQ_ARCHIVE_URI": str(file_archive.store.base),
        }
    )
    before = snapshot(file_archive)
    probes = [
        ["search", "--label", "'; DROP TABLE visitseq; --"],
        ["search", "--label", "%"],
        ["search", "--tag", "prenight' OR '1'='1"],
        ["search", "--tag", "__import__('os').system('touch /tmp/vseq-pwned')"],
        ["search", "--label", "{__import__('os').system('touch /tmp/vseq-pwned')}"],
        ["search", "--json", "--label", "$(touch /tmp/vseq-pwned)"],
    ]
    runner = CliRunner()
    for probe in probes:  # in-process: the same code path as the console script, faster
        done = runner.invoke(cli, probe, env=env, catch_exceptions=False)
        assert done.exit_code == 0, (probe, done.stderr)
        assert str(seq.uuid) not in done.stdout, probe
    assert not Path("/tmp/vseq-pwned").exists()
    assert snapshot(file_archive) == before
    found = subprocess.run(
        [VSEQARCHIVE, "search", "--tag", "prenight"], env=env, capture_output=True, text=True, timeout=120
    )
    assert str(seq.uuid) in found.stdout


def test_no_code_evaluation_in_query_paths() -> None:
    """Static guard: the commands and the query code never evaluate text as Python."""
    root = Path(__file__).resolve().parents[2] / "vseq_resources"
    paths = [
        *root.glob("cli/*.py"),
        *root.glob("metadata/*.py"),
        root / "archive.py",
        root / "prenight_index.py",
    ]
    paths += [*root.glob("readers/*.py"), root / "stored_visits.py"]
    pattern = re.compile(
        r"\b(eval|exec|compile)\(|pickle\.loads?\(|\.query\(\s*f?['\"]|yaml\.load\(|pd\.eval\("
    )
    hits = [
        f"{p.name}:{n}"
        for p in paths
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits
