"""Production's own readers and commands (rubin-sim 2.6.2) get the same answers from an archive
vseq wrote as from one production wrote.

One archive per implementation holds the same simulations (``archives.py``); production's code
reads both, in its own environment, and the answers are compared after naming what must differ
(UUIDs, store bases, comment times). Besides equality, the statistics production serves for every
night are checked against production's own statistics of the stored visits.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.metadata import MetadataDatabase
from vseq_resources.store import ArchiveStore
from vseq_tests import services

from .archives import (
    STATS_COLUMNS,
    TELESCOPE,
    Archive,
    Inputs,
    batch,
    comment_times,
    normalize,
    run_vseq_batch,
)
from .conftest import CONDA_OUTPUT, NIGHTS, Production, database_env

pytestmark = pytest.mark.timeout(1800)

MEMORY_REPR = re.compile(r"<memory at 0x[0-9a-f]+>")
UNREACHABLE_PORT = str(services.free_port())


@dataclass
class Pair:
    vseq: Archive
    production: Archive
    inputs: Inputs
    read: dict[str, list[dict[str, Any]]]
    """What production's readers answered, per archive (database run, then snapshot run)."""
    snapshot: dict[str, list[dict[str, Any]]]


def _creation_day(created: str) -> str:
    return (dt.datetime.fromisoformat(created) - dt.timedelta(hours=12)).date().isoformat()


def reader_steps(archive: Archive, inputs: Inputs, destination: str) -> list[dict[str, Any]]:
    """Every production reader, on ``archive``'s database (and store)."""
    schema = archive.schema
    nominal = archive.uuids["nominal"]
    url = f"{archive.base}{TELESCOPE}/{_creation_day(inputs.created['nominal'])}/{nominal}/visits.h5"
    steps: list[dict[str, Any]] = []
    for night in NIGHTS:
        steps += [
            {"op": "get_prenight_index", "day_obs": night, "telescope": TELESCOPE, "schema": schema},
            {
                "op": "select_latest_prenight_sim",
                "day_obs": night,
                "telescope": TELESCOPE,
                "index_kwargs": {"schema": schema},
            },
            {"op": "fetch_sim_stats_for_night", "day_obs": night, "schema": schema},
            {
                "op": "sims_on_night_with_stats",
                "day_obs": night,
                "schema": schema,
                "tags": ["prenight"],
                "telescope": TELESCOPE,
                "max_simulation_age": 4000,
            },
            {"op": "visits_stats", "url": url, "day_obs": night, "columns": list(STATS_COLUMNS)},
        ]
    which = {
        "tags": ["ideal", "nominal"],
        "telescope": TELESCOPE,
        "max_simulation_age": 2,
        "get_prenight_index_kwargs": {"schema": schema},
    }
    steps += [
        {
            "op": "find_latest_prenight_sim_for_nights",
            "first_day_obs": NIGHTS[0],
            "last_day_obs": NIGHTS[-1],
            "telescope": TELESCOPE,
            "get_prenight_index_kwargs": {"schema": schema},
        },
        {
            "op": "fetch_sim_for_nights",
            "first_day_obs": NIGHTS[1],
            "last_day_obs": NIGHTS[2],
            "which_sim": which,
        },
        {"op": "get_sim_metadata", "visitseq_uuid": nominal, "schema": schema},
        {
            "op": "get_sim_metadata",
            "visitseq_uuid": nominal,
            "day_obs": int(NIGHTS[1].replace("-", "")),
            "schema": schema,
        },
        {"op": "conda_env_is_saved", "schema": schema},
        {"op": "get_software_versions_for_sim", "visitseq_uuid": nominal, "schema": schema},
        {"op": "get_visits", "url": url},
    ]
    day = _creation_day(inputs.created["nominal"])
    for daily_id in (1, 2, 3, 4):
        steps += [
            {"op": "get_sim_uuid", "sim_date": day, "daily_id": daily_id, "schema": schema},
            {
                "op": "get_sim_uuid",
                "sim_date": day,
                "daily_id": daily_id,
                "day_obs": NIGHTS[0],
                "schema": schema,
            },
        ]
    for name in ("nominal", "older", "empty", "api"):
        steps.append({"op": "query_nightly_stats", "visitseq_uuid": archive.uuids[name], "schema": schema})
    steps += [{"op": "cli", "args": ["--schema", schema, *args]} for args in read_commands(archive, inputs)]
    steps.append(
        {
            "op": "cli",
            "args": [
                "--schema",
                schema,
                "make-prenight-index",
                NIGHTS[1],
                TELESCOPE,
                "--destination",
                destination,
            ],
        }
    )
    return steps


def read_commands(archive: Archive, inputs: Inputs) -> list[list[str]]:
    """The production command line's read commands, as a batch script calls them."""
    nominal = archive.uuids["nominal"]
    return [
        ["get-visitseq-metadata", nominal],
        ["get-visitseq-metadata", nominal, "--table", "simulations"],
        ["get-visitseq-url", nominal],
        ["is-tagged", nominal, "ideal"],
        ["is-tagged", nominal, "missing"],
        ["get-comments", nominal],
        ["get-comments", archive.uuids["older"]],
        ["query-nightly-stats", nominal],
        ["query-nightly-stats", archive.uuids["empty"]],
        ["get-file", nominal, "rewards", str(inputs.work / f"{archive.name}-read-rewards.h5")],
        ["get-file", nominal, "visits", str(inputs.work / f"{archive.name}-read-visits.db")],
    ]


def snapshot_steps(archive: Archive, inputs: Inputs) -> list[dict[str, Any]]:
    """The readers of services without database access: the pre-night index snapshots only."""
    steps: list[dict[str, Any]] = []
    for night in NIGHTS:
        steps += [
            {
                "op": "get_prenight_index",
                "day_obs": night,
                "telescope": TELESCOPE,
                "prenight_index_path": archive.index,
            },
            {"op": "fetch_sim_stats_for_night", "day_obs": night, "prenight_index_path": archive.index},
        ]
    steps += [
        {"op": "fetch_obsloctap_visits", "day_obs": NIGHTS[0], "nights": 2, "telescope": TELESCOPE},
        {
            "op": "get_sim_metadata",
            "visitseq_uuid": archive.uuids["nominal"],
            "day_obs": int(NIGHTS[0].replace("-", "")),  # production takes no ISO string here
            "prenight_index_path": archive.index,
        },
        {
            "op": "get_sim_uuid",
            "sim_date": _creation_day(inputs.created["nominal"]),
            "daily_id": 4,
            "day_obs": NIGHTS[0],
            "prenight_index_path": archive.index,
        },
    ]
    return steps


def _write_api_simulation(archive: VisitSequenceArchive, inputs: Inputs) -> str:
    """The API simulation, as a vseq pre-night script records it."""
    visits = pd.read_hdf(inputs.api_h5, key="observations")
    env_hash = archive.record_package_environment(CONDA_OUTPUT)
    seq = archive.record_sequence(
        "simulations",
        visits,
        label="API simulation",
        telescope=TELESCOPE,
        first_day_obs=NIGHTS[0],
        last_day_obs=NIGHTS[-1],
        creation_time=dt.datetime.fromisoformat(inputs.created["api"]).replace(tzinfo=dt.UTC),
        tags=["prenight", "ideal"],
        scheduler_version="4.6.0",
        conda_env_sha256=env_hash,
        sim_runner_kwargs={"n_nights": 3},
    )
    return str(seq.uuid)


@pytest.fixture(scope="module")
def pair(
    production: Production,
    pg_url: str,
    s3_server: services.S3Server,
    tmp_path_factory: pytest.TempPathFactory,
    fake_conda: Path,
) -> Iterator[Pair]:
    work = tmp_path_factory.mktemp("compat")
    inputs = Inputs.make(work / "inputs", dt.datetime.now(dt.UTC))
    bucket = s3_server.create_bucket()
    vseq = Archive(
        name="vseq",
        schema=services.new_schema_name("test_compat_vseq"),
        base=f"s3://{bucket}/opsim/vseq/",
        index=f"s3://{bucket}/opsim/prenight_index/",
        env={},
    )
    (work / "prod-store").mkdir()
    prod = Archive(
        name="prod",
        schema=services.new_schema_name("test_compat_prod"),
        base=(work / "prod-store").as_uri() + "/",
        index=(work / "prod-index").as_uri() + "/",
        env={},
    )
    try:
        # vseq's archive: a schema vseq created, the batch through vseq's command line.
        vseq.env = {
            **database_env(pg_url, vseq.schema),
            "VSEQ_ARCHIVE_URI": vseq.base,
            "VSEQ_PRENIGHT_INDEX_URI": vseq.index,
            "VSEQ_STATE_DIR": str(work / "state"),
            "PATH": f"{fake_conda / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "CONDA_PREFIX": str(fake_conda),
        }
        result = CliRunner().invoke(cli, ["migrate"], env=vseq.env, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        run_vseq_batch(vseq, batch(inputs, vseq.name, vseq.base, vseq.index))
        api_archive = VisitSequenceArchive(
            MetadataDatabase.from_url(pg_url, vseq.schema), ArchiveStore(vseq.base)
        )
        try:
            vseq.uuids["api"] = _write_api_simulation(api_archive, inputs)
        finally:
            api_archive.metadata.close()

        # production's archive: a schema production created, the same batch through its own.
        prod.env = database_env(pg_url, prod.schema)
        steps: list[dict[str, Any]] = [{"op": "create_schema", "schema": prod.schema}]
        steps += [
            {"op": "cli", "args": args, **({"save_as": name} if name else {})}
            for name, args in batch(inputs, prod.name, prod.base, prod.index)
        ]
        steps.append(
            {
                "op": "record_with_api",
                "schema": prod.schema,
                "visits_h5": str(inputs.api_h5),
                "label": "API simulation",
                "first_day_obs": NIGHTS[0],
                "last_day_obs": NIGHTS[-1],
                "creation_time": inputs.created["api"],
                "archive_base": prod.base,
                "tags": ["prenight", "ideal"],
                "conda_list": CONDA_OUTPUT,
            }
        )
        results = production.run(steps, prod.env)
        assert "error" not in results[0], results[0]
        prod.printed = [r.get("value") or {"error": r["error"]} for r in results[1:-1]]
        for (name, _), printed in zip(
            batch(inputs, prod.name, prod.base, prod.index), prod.printed, strict=True
        ):
            if name is not None:
                prod.uuids[name] = printed["stdout"].strip()
        assert "value" in results[-1], results[-1]
        prod.uuids["api"] = results[-1]["value"]

        read: dict[str, list[dict[str, Any]]] = {}
        snapshot: dict[str, list[dict[str, Any]]] = {}
        for archive in (vseq, prod):
            destination = (work / f"{archive.name}-read-index").as_uri() + "/"
            read[archive.name] = production.run(reader_steps(archive, inputs, destination), archive.env)
            offline = {
                **archive.env,
                "VSARCHIVE_PGPORT": UNREACHABLE_PORT,
                "PRENIGHT_INDEX_URL": archive.index,
            }
            snapshot[archive.name] = production.run(snapshot_steps(archive, inputs), offline)
        yield Pair(vseq=vseq, production=prod, inputs=inputs, read=read, snapshot=snapshot)
    finally:
        for archive in (vseq, prod):
            services.drop_schema(pg_url, archive.schema)


def _differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Where two plain values differ (paths), for a readable failure."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right), key=str):
            if key not in left or key not in right:
                found.append(f"{path}/{key}: only in {'vseq' if key in left else 'production'}")
            else:
                found += _differences(left[key], right[key], f"{path}/{key}")
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if left == right else [f"{path}: vseq {left!r} != production {right!r}"]


def compare_reads(
    left: list[dict[str, Any]],
    right: list[dict[str, Any]],
    steps: list[dict],
    left_archive: Archive,
    right_archive: Archive,
) -> list[str]:
    """Where production's answers from two archives differ, step by step (``op/path: ...``)."""
    found = []
    for step, a, b in zip(steps, left, right, strict=True):
        found += [
            f"{step['op']}{d}"
            for d in _differences(_mask(left_archive.normalize(a)), _mask(right_archive.normalize(b)))
        ]
    return found


def _mask(value: Any) -> Any:
    """Deliberate differences named in docs/compatibility.md: production's bytea printed as
    ``<memory at 0x...>`` (vseq prints hex) and the visits content hash (production's is not
    reproducible) in ``get-visitseq-metadata``'s output; the header of an empty
    ``add-nightly-stats``."""
    if isinstance(value, dict) and "stdout" in value:
        lines = value["stdout"].splitlines()
        if lines and lines[0].startswith("visitseq_uuid\tvisitseq_sha256"):
            masked = []
            for line in lines:
                cells = line.split("\t")
                cells[1] = "<visitseq_sha256>"
                masked.append("\t".join(MEMORY_REPR.sub("<bytea>", cell) for cell in cells))
            value = {**value, "stdout": "\n".join(masked) + "\n"}
        # add-nightly-stats of an empty simulation: production's header names the night column
        # "level_0" (pandas' name for an unnamed empty index), vseq's "day_obs".
        stdout = value["stdout"].replace("level_0\tvalue_name\t", "day_obs\tvalue_name\t")
        value = {**value, "stdout": comment_times(stdout)}
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def test_batch_prints_what_production_prints(pair: Pair) -> None:
    """Every command of the batch exits as production's does and prints the same, up to the
    UUIDs and store bases that must differ."""
    steps = batch(pair.inputs, "x", "", "")
    assert len(pair.vseq.printed) == len(pair.production.printed) == len(steps)
    for (_, args), ours, theirs in zip(steps, pair.vseq.printed, pair.production.printed, strict=True):
        mine = _mask(normalize({"exit_code": ours["exit_code"], "stdout": ours["stdout"]}, pair.vseq))
        prod = _mask(
            normalize({"exit_code": theirs["exit_code"], "stdout": theirs["stdout"]}, pair.production)
        )
        assert mine == prod, (args[0], ours.get("stderr"), theirs.get("error"))


def test_production_readers_get_the_same_answers(pair: Pair) -> None:
    steps = reader_steps(pair.vseq, pair.inputs, "")
    found = compare_reads(pair.read["vseq"], pair.read["prod"], steps, pair.vseq, pair.production)
    assert not found, "\n".join(found)
    offline = snapshot_steps(pair.vseq, pair.inputs)
    found = compare_reads(pair.snapshot["vseq"], pair.snapshot["prod"], offline, pair.vseq, pair.production)
    assert not found, "\n".join(found)


def _values(steps: list[dict[str, Any]], results: list[dict[str, Any]], op: str) -> list[Any]:
    found = [r for s, r in zip(steps, results, strict=True) if s["op"] == op]
    assert all("value" in r for r in found), found
    return [r["value"] for r in found]


def test_nightly_statistics_are_each_nights(pair: Pair) -> None:
    """On every night, production serves the statistics of that night's visits (its own
    computation from the stored visits), whether it reads the database or the snapshot."""
    steps = reader_steps(pair.vseq, pair.inputs, "")
    results = pair.read["vseq"]
    expected = _values(steps, results, "visits_stats")
    served = _values(steps, results, "fetch_sim_stats_for_night")
    offline = _values(
        snapshot_steps(pair.vseq, pair.inputs), pair.snapshot["vseq"], "fetch_sim_stats_for_night"
    )
    for night, want, got, got_offline in zip(NIGHTS, expected, served, offline, strict=True):
        count = want["azimuth"]["count"]
        assert count == 30, night
        for value_name in STATS_COLUMNS:
            # Production's query passes the values through JSONB, which keeps 15 significant
            # digits (PostgreSQL's float8 -> numeric): the same on any archive.
            wanted = {k: v for k, v in want[value_name].items() if k != "day_obs"} | {"accumulated": False}
            assert got[value_name] == wanted, night
            # The snapshot holds pandas' to_json numbers (10 decimals), as production writes it.
            assert got_offline[value_name].keys() == wanted.keys()
            for key, number in wanted.items():
                assert got_offline[value_name][key] == pytest.approx(number, rel=0, abs=1e-10), (night, key)
        assert got["nominal_visits"] == got_offline["nominal_visits"] == 30


def test_package_environment_key_is_productions(pair: Pair) -> None:
    """Production's own key of the environment (``conda list --json`` as it runs it) finds what
    vseq stored, and is the key vseq recorded for the simulation."""
    steps = reader_steps(pair.vseq, pair.inputs, "")
    (saved,) = _values(steps, pair.read["vseq"], "conda_env_is_saved")
    assert saved["saved"] is True
    assert saved["key"] == pair.vseq.uuids["conda"] == pair.production.uuids["conda"]
    (metadata, _) = _values(steps, pair.read["vseq"], "get_sim_metadata")
    assert metadata["conda_env_sha256"] == saved["key"]
    (packages,) = _values(steps, pair.read["vseq"], "get_software_versions_for_sim")
    assert packages["index"] == ["rubin-scheduler", "zlib"]


def test_production_index_is_byte_identical(pair: Pair, tmp_path: Path) -> None:
    from lsst.resources import ResourcePath

    steps = reader_steps(pair.vseq, pair.inputs, "")
    written = _values(steps, pair.read["vseq"], "cli")[-1]
    assert written["exit_code"] == 0
    destination = tmp_path.as_uri() + "/"
    args = ["make-prenight-index", NIGHTS[1], TELESCOPE, "--destination", destination]
    result = CliRunner().invoke(cli, args, env=pair.vseq.env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    ours = ResourcePath(result.stdout.strip()).read()
    assert (
        result.stdout.strip() == f"{destination}{TELESCOPE}/2026/4/{TELESCOPE}_prenights_for_{NIGHTS[1]}.json"
    )
    theirs = ResourcePath(written["stdout"].strip()).read()
    # The same entries, byte for byte; their order is the order production's query returns rows
    # in (it has no ORDER BY), vseq writes them oldest first.
    assert json.loads(ours) == json.loads(theirs)
    assert _entries(ours) == _entries(theirs)


def _entries(text: bytes) -> dict[str, str]:
    """The text of each top-level entry of an index file (``"uuid":{...}``), by UUID."""
    body = text.decode().strip()[1:-1]
    parts = re.split(r',\n    (?=")', body)
    return {part.strip().split('"')[1]: part.strip() for part in parts}


def test_the_comparison_detects_one_wrong_statistic_or_key(
    pair: Pair, production: Production, pg_url: str
) -> None:
    """The suite can fail: with one stored statistic and one environment key altered in vseq's
    archive, production's answers differ from the reference archive's exactly there."""
    engine = sa.create_engine(pg_url)
    schema = pair.vseq.schema
    nominal = uuid.UUID(pair.vseq.uuids["nominal"])
    where = "WHERE visitseq_uuid = :u AND day_obs = :d AND value_name = 'azimuth'"
    key = {"u": nominal, "d": NIGHTS[1]}
    with engine.begin() as conn:
        original = conn.execute(
            sa.text(f'SELECT mean FROM "{schema}".nightly_stats {where}'), key
        ).scalar_one()
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f'UPDATE "{schema}".nightly_stats SET mean = :m {where}'),
                {**key, "m": original + 1e-9},
            )
            conn.execute(
                sa.text(f'UPDATE "{schema}".conda_env SET conda_env_hash = :bad'), {"bad": bytes(32)}
            )
        steps = [
            {"op": "fetch_sim_stats_for_night", "day_obs": NIGHTS[1], "schema": schema},
            {"op": "conda_env_is_saved", "schema": schema},
        ]
        broken = production.run(steps, pair.vseq.env)
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f'UPDATE "{schema}".nightly_stats SET mean = :m {where}'), {**key, "m": original}
            )
            conn.execute(
                sa.text(f'UPDATE "{schema}".conda_env SET conda_env_hash = :good'),
                {"good": bytes.fromhex(pair.vseq.uuids["conda"])},
            )
        engine.dispose()
    reference_steps = reader_steps(pair.production, pair.inputs, "")
    reference = [
        next(
            r
            for s, r in zip(reference_steps, pair.read["prod"], strict=True)
            if s["op"] == step["op"] and s.get("day_obs", NIGHTS[1]) == NIGHTS[1]
        )
        for step in steps
    ]
    found = compare_reads(broken, reference, steps, pair.vseq, pair.production)
    wrong, right = broken[0]["value"]["azimuth"]["mean"], reference[0]["value"]["azimuth"]["mean"]
    assert found == [
        f"fetch_sim_stats_for_night/value/azimuth/mean: vseq {wrong!r} != production {right!r}",
        "conda_env_is_saved/value/saved: vseq False != production True",
    ]


@pytest.fixture
def production_roles(pg_url: str, pair: Pair) -> Iterator[dict[str, str]]:
    """Production's ``reader`` and ``writer`` on the schema production created, granted as
    production grants them: on the tables that exist."""
    with services.archive_roles(pg_url, pair.production.schema, "compat") as names:
        yield names


def test_vseq_reads_a_production_archive_before_and_after_migrate(
    pair: Pair, production: Production, production_roles: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    """vseq's readers work on a schema production created, before vseq adopts it (no checksum
    recorded yet) and after, as production's read-only role; production's readers keep their
    answers; writes that need vseq's tables say to migrate first."""
    prod = pair.production
    nominal = prod.uuids["nominal"]
    steps = reader_steps(prod, pair.inputs, "")
    (expected,) = _values(steps, pair.read["prod"], "get_visits")
    expected_visits = pd.DataFrame(expected["rows"], columns=expected["columns"])
    runner = CliRunner()

    def vseq_cli(role: str | None, *args: str) -> Any:
        env = {**database_env(pg_url if role is None else services.role_url(pg_url, role), prod.schema)}
        env |= {"VSEQ_ARCHIVE_URI": prod.base, "VSEQ_STATE_DIR": str(tmp_path / "state")}
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    def api_visits(role: str) -> pd.DataFrame:
        archive = VisitSequenceArchive(
            MetadataDatabase.from_url(services.role_url(pg_url, role), prod.schema), ArchiveStore(prod.base)
        )
        try:
            return archive.get_visits(nominal)
        finally:
            archive.metadata.close()

    def read_as(role: str) -> None:
        pd.testing.assert_frame_equal(api_visits(role), expected_visits, check_dtype=False)
        result = vseq_cli(role, "get-visits", nominal, str(tmp_path / f"{role}.parquet"))
        assert result.exit_code == 0, result.stderr
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / f"{role}.parquet"), expected_visits, check_dtype=False
        )
        result = vseq_cli(role, "get-file", nominal, "visits", str(tmp_path / f"{role}.db"))
        assert result.exit_code == 0 and "Converted to opsim" in result.stdout, result.stderr
        result = vseq_cli(role, "verify")
        assert result.exit_code == 0, (result.stdout, result.stderr)

    reader, writer = production_roles["reader"], production_roles["writer"]
    # -- before migrate: reads work without vseq's tables; writes that need them name the fix.
    read_as(reader)
    refused = vseq_cli(writer, "archive-file", nominal, str(pair.inputs.rewards), "extra")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert "run 'vseqarchive migrate' first" in refused.stderr

    # -- migrate (as the schema's owner): the adoption note and the grants are printed.
    migrated = vseq_cli(None, "migrate")
    assert migrated.exit_code == 0, migrated.stderr
    assert "adopted schema" in migrated.stdout and "'2026-12-04 #3'" in migrated.stdout
    for table, privileges in (
        ("file_checksums", {reader: "SELECT", writer: "INSERT, SELECT, UPDATE"}),
        ("accumulated_stats", {reader: "SELECT", writer: "INSERT, SELECT, UPDATE"}),
        ("simulations_extra_columns", {reader: "SELECT", writer: "INSERT, SELECT, UPDATE"}),
        ("alembic_version", {reader: "SELECT", writer: "INSERT, SELECT, UPDATE"}),
    ):
        for role, granted in privileges.items():
            assert f"granted {granted} on {table} to {role}" in migrated.stdout, (table, role)

    # -- after: the read-only role reads as before; production's readers answer as before.
    read_as(reader)
    again = production.run(steps[:25], {**prod.env, "VSARCHIVE_PGUSER": reader})
    found = compare_reads(again, pair.read["prod"][:25], steps[:25], prod, prod)
    assert not found, "\n".join(found)

    # -- and production's writer can record through vseq (vseq's tables included).
    archive = VisitSequenceArchive(
        MetadataDatabase.from_url(services.role_url(pg_url, writer), prod.schema), ArchiveStore(prod.base)
    )
    try:
        seq = archive.record_sequence(
            "simulations", expected_visits, label="after adoption", telescope=TELESCOPE, tags=["prenight"]
        )
        stored = archive.metadata.query_nightly_stats(seq.uuid, include_accumulated=True)
        assert (
            stored["accumulated"].any()
            and not archive.metadata.query_nightly_stats(seq.uuid)["accumulated"].any()
        )
        pd.testing.assert_frame_equal(archive.get_visits(seq.uuid), expected_visits, check_dtype=False)
    finally:
        archive.metadata.close()
