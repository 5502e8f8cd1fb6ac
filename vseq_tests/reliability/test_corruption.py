"""Stored files damaged behind the archive's back: a flipped byte, a truncated file, a deleted one.

``verify`` (API and ``vseqarchive verify``) reports each one and ``--repair`` touches none of them
(a referenced file is evidence, never an orphan); reading the damaged visits raises
``IntegrityError`` instead of returning different visits; the Dagster asset checks fail.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from lsst.resources import ResourcePath

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.dagster_resources import ArchiveResource, SqlConsDBResource
from vseq_resources.errors import IntegrityError
from vseq_tests.assets.helpers import check_results, materialize_night, materialized
from vseq_tests.reliability.conftest import BACKFILL_NIGHTS
from vseq_tests.reliability.support import small_visits, store_listing


def flip_byte(url: str, where: float = 0.5) -> None:
    resource = ResourcePath(url)
    data = bytearray(resource.read())
    data[int(len(data) * where)] ^= 0x01
    resource.write(bytes(data), overwrite=True)


def truncate(url: str, keep: float = 0.5) -> None:
    resource = ResourcePath(url)
    data = resource.read()
    resource.write(data[: int(len(data) * keep)], overwrite=True)


def _verify_cli(archive: VisitSequenceArchive, db_url: str, *args: str):  # type: ignore[no-untyped-def]
    env = {
        "VSEQ_DATABASE_URL": db_url,
        "VSARCHIVE_PGSCHEMA": archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": str(archive.store.base),
    }
    return CliRunner().invoke(cli, ["verify", "--grace-hours", "0", *args], env=env, catch_exceptions=False)


def test_verify_detects_damage_and_repair_leaves_it(archive: VisitSequenceArchive, pg_url: str) -> None:
    seqs = [
        archive.record_sequence(
            "simulations",
            small_visits("2026-04-11", 200, seed=i),
            label=f"sequence {i}",
            telescope="simonyi",
            files={"notes.txt": f"notes of {i}\n".encode() * 100},
        )
        for i in range(4)
    ]
    assert archive.verify(grace=dt.timedelta(0)).ok
    flip_byte(seqs[0].visitseq_url)
    truncate(seqs[1].visitseq_url)
    truncate(seqs[2].files["notes"], keep=0.9)
    ResourcePath(seqs[3].files["notes"]).remove()

    report = archive.verify(grace=dt.timedelta(0))
    assert sorted(ref.url for ref, _ in report.corrupt) == sorted(
        [seqs[0].visitseq_url, seqs[1].visitseq_url, seqs[2].files["notes"]]
    )
    assert [ref.url for ref in report.missing] == [seqs[3].files["notes"]]
    assert not report.orphans and not report.ok

    found = _verify_cli(archive, pg_url)
    assert found.exit_code == 1
    lines = found.stdout.splitlines()
    assert sum(line.startswith("CORRUPT") for line in lines) == 3
    assert sum(line.startswith("MISSING") for line in lines) == 1

    before = {url: ResourcePath(url).read() for url in store_listing(archive)}
    repaired = _verify_cli(archive, pg_url, "--repair")
    assert repaired.exit_code == 1  # still damaged: repair removes orphans only
    assert {url: ResourcePath(url).read() for url in store_listing(archive)} == before

    # Readers never get the damaged visits as if they were the recorded ones.
    for damaged in seqs[:2]:
        with pytest.raises(IntegrityError):
            archive.get_visits(damaged.uuid)
    assert len(archive.get_visits(seqs[2].uuid)) == 200


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_asset_checks_fail_on_damaged_visits(
    damage: str, pg_url: str, db_schema: str, file_base: str, tmp_path: Path, consdb_url: str
) -> None:
    night = BACKFILL_NIGHTS[2]
    archive = ArchiveResource(database_url=pg_url, db_schema=db_schema, archive_uri=file_base, migrate=True)
    resources = {"archive": archive, "consdb": SqlConsDBResource(url=consdb_url)}
    first = materialize_night("simonyi", night, resources)
    assert all(c.passed for c in check_results(first).values())
    url = materialized(first, "simonyi", "completed_visits")["url"]
    {"flip": flip_byte, "truncate": truncate, "delete": lambda u: ResourcePath(u).remove()}[damage](url)

    rerun = materialize_night("simonyi", night, resources, raise_on_error=False)
    checks = check_results(rerun)
    assert not checks["visits_file_reads_back"].passed
    description = checks["visits_file_reads_back"].description
    if damage == "flip":  # refused by the verified read path before any parsing
        assert "has SHA-256" in description and "recorded" in description, description
    else:
        assert "cannot be read back" in description or "file checksum" in description, description
    assert checks["metadata_row_points_at_visits"].passed == (damage != "delete")
