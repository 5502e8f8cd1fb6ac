"""A backfill of past pre-night partitions never changes tonight's answer (issue 13, point 2).

Tonight's pre-night partition is materialized through Dagster (a real instance, short real
simulations: half an hour of the first of three nights, two variants), then two past partitions
are backfilled after it, as a user launching a backfill would. The backfills' simulations are
re-simulations of the past (created after their first night's dayobs), so every reader's answer
for tonight is unchanged: vseq's ``ArchiveReader`` from the database and from the snapshots,
vseq's obsloctap, ``load_partition`` and the IO manager, the index snapshot of tonight, and
production's own readers (rubin-sim 2.6.2, in their environment) from the database and from
the snapshots. Each past partition reads back as its own simulation, and the briefing of a
partition re-run with ``resimulate`` shows the variants of one run.

The pre-night run's clock (``vseq_resources.prenight.utc_now``) is set, so that tonight's run
happens in the afternoon before tonight (2026-04-11, whose site data production's environment
has) and the backfills an hour later.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance, build_input_context, materialize
from lsst.resources import ResourcePath

from vseq_assets.briefing import prenight_briefing_asset
from vseq_assets.partitions import prenight_partitions
from vseq_assets.prenight import prenight_simulation_assets
from vseq_assets.prenight_index import prenight_index_asset, prenight_index_check
from vseq_resources import prenight
from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource, VseqArchiveIOManager
from vseq_resources.prenight_index import prenight_index_path
from vseq_resources.readers import ArchiveReader, load_partition
from vseq_tests import services
from vseq_tests.assets.helpers import check_results, file_archive_resource, index_resource, materialized

from .conftest import Production, database_env

pytestmark = pytest.mark.timeout(3600)  # four pre-night runs and four of production's

TELESCOPE = "simonyi"
TONIGHT = dt.date(2026, 4, 11)
TOMORROW = TONIGHT + dt.timedelta(days=1)
PAST = (TONIGHT - dt.timedelta(days=2), TONIGHT - dt.timedelta(days=1))
TONIGHT_RUN = dt.datetime(2026, 4, 11, 18, 0, tzinfo=dt.UTC)  # the afternoon before tonight
BACKFILL_RUN = TONIGHT_RUN + dt.timedelta(hours=1)
READ_AT = BACKFILL_RUN + dt.timedelta(hours=1)
UNREACHABLE_PORT = str(services.free_port())
OLD_ENOUGH = 4000  # production's readers run on today's clock: no age limit for these nights


@pytest.fixture
def resource(pg_url: str, db_schema: str, tmp_path: Path) -> ArchiveResource:
    return index_resource(file_archive_resource(pg_url, db_schema, tmp_path), tmp_path)


def _materialize(
    night: dt.date, resource: ArchiveResource, instance: DagsterInstance, site_data: Path, **config: Any
) -> Any:
    simulations = PrenightSimulationResource(
        nights=3,
        duration_hours=0.5,
        variants=["nominal", "delay_60"],
        record_rewards=False,
        site_data_dir=str(site_data),
        **config,
    )
    result = materialize(
        [
            prenight_simulation_assets(TELESCOPE),
            prenight_index_asset(TELESCOPE),
            prenight_index_check(TELESCOPE),
            prenight_briefing_asset(TELESCOPE),
        ],
        partition_key=night.isoformat(),
        resources={"archive": resource, "prenight": simulations},
        instance=instance,
    )
    assert result.success
    failed = {name: c.description for name, c in check_results(result).items() if not c.passed}
    assert not failed, failed
    return result


def _vseq_answers(reader: ArchiveReader, io_manager: VseqArchiveIOManager) -> dict[str, Any]:
    """Every vseq reader's answer for tonight."""
    planned = load_partition(f"{TELESCOPE}/prenight_sims", TONIGHT, reader=reader)
    context = build_input_context(
        asset_key=AssetKey([TELESCOPE, "prenight_sims"]),
        partition_key=TONIGHT.isoformat(),
        asset_partitions_def=prenight_partitions,
    )
    through_io = io_manager.load_input(context)
    return {
        "index": sorted(reader.prenight_index(TONIGHT, TELESCOPE).index),
        "latest": reader.latest_simulation(
            TONIGHT, TOMORROW, TELESCOPE, max_simulation_age=None, now=READ_AT
        )["visitseq_uuid"],
        "visits_for_nights": reader.visits_for_nights(
            TONIGHT, TOMORROW, TELESCOPE, max_simulation_age=None, now=READ_AT
        ).attrs["visitseq_uuid"],
        "obsloctap": reader.obsloctap_visits(TONIGHT, 2, TELESCOPE, now=READ_AT).attrs["visitseq_uuid"],
        "stats": reader.night_stats(TONIGHT, TELESCOPE, max_simulation_age=None, now=READ_AT),
        "load_partition": (len(planned), float(planned["observationStartMJD"].sum())),
        "io_manager": (len(through_io), float(through_io["observationStartMJD"].sum())),
        "metadata": sorted(load_partition(f"{TELESCOPE}/prenight_metadata", TONIGHT, reader=reader).index),
    }


def _production_steps(schema: str, index: str | None) -> list[dict[str, Any]]:
    """Production's readers for tonight: from the database, or (``index``) the snapshots."""
    where = {"prenight_index_path": index} if index else {"schema": schema}
    steps: list[dict[str, Any]] = [
        {"op": "get_prenight_index", "day_obs": TONIGHT.isoformat(), "telescope": TELESCOPE, **where},
        {
            "op": "select_latest_prenight_sim",
            "day_obs": TONIGHT.isoformat(),
            "telescope": TELESCOPE,
            "index_kwargs": where,
            "max_simulation_age": OLD_ENOUGH,
        },
        {
            "op": "fetch_sim_stats_for_night",
            "day_obs": TONIGHT.isoformat(),
            "max_simulation_age": OLD_ENOUGH,
            **where,
        },
    ]
    if index:
        # Production's obsloctap passes no schema to its database query: it reads the snapshots.
        steps.append(
            {
                "op": "fetch_obsloctap_visits",
                "day_obs": TONIGHT.isoformat(),
                "nights": 2,
                "telescope": TELESCOPE,
                "max_simulation_age": OLD_ENOUGH,
            }
        )
    else:
        steps.append(
            {
                "op": "find_latest_prenight_sim_for_nights",
                "first_day_obs": TONIGHT.isoformat(),
                "last_day_obs": TOMORROW.isoformat(),
                "telescope": TELESCOPE,
                "max_simulation_age": OLD_ENOUGH,
                "get_prenight_index_kwargs": where,
            }
        )
    return steps


def _production_answers(production: Production, pg_url: str, resource: ArchiveResource) -> list[Any]:
    settings = resource.settings()
    env = database_env(pg_url, settings.schema)
    online = production.values(_production_steps(settings.schema, None), env)
    offline_env = {**env, "VSARCHIVE_PGPORT": UNREACHABLE_PORT, "PRENIGHT_INDEX_URL": settings.index_uri}
    offline = production.values(_production_steps(settings.schema, settings.index_uri), offline_env)
    return [*online, *offline]


def test_backfilling_past_nights_keeps_tonights_answer(
    production: Production,
    pg_url: str,
    resource: ArchiveResource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RUBIN_SIM_DATA_DIR", raising=False)
    site_data = tmp_path / "site_data"
    clock = {"now": TONIGHT_RUN}
    monkeypatch.setattr(prenight, "utc_now", lambda: clock["now"])
    settings = resource.settings()
    vsa = resource.open()
    reader = ArchiveReader.for_archive(vsa)
    offline = ArchiveReader(
        f"postgresql+psycopg2://postgres@127.0.0.1:{UNREACHABLE_PORT}/postgres",
        settings.schema,
        settings.index_uri,
    )
    io_manager = VseqArchiveIOManager(archive=resource)
    snapshot = prenight_index_path(settings.index_uri, TONIGHT, TELESCOPE)
    try:
        (tmp_path / "dagster").mkdir()
        with DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster")) as instance:
            tonight = materialized(
                _materialize(TONIGHT, resource, instance, site_data), TELESCOPE, "prenight_sims"
            )
            nominal = tonight["sequences"]["nominal"]
            assert set(vsa.metadata.get_tags(nominal)) == {"prenight", "ideal", "nominal", "approximate_sky"}

            before = _vseq_answers(reader, io_manager)
            assert before["latest"] == before["visits_for_nights"] == before["obsloctap"] == nominal
            assert before["metadata"] == sorted(tonight["sequences"].values())
            before_offline = _vseq_answers(offline, io_manager)
            assert offline.last_source == "snapshot"
            before_snapshot = json.loads(ResourcePath(snapshot).read())
            before_production = _production_answers(production, pg_url, resource)
            online_latest, offline_latest = before_production[1], before_production[5]
            assert online_latest["visitseq_uuid"] == offline_latest["visitseq_uuid"] == nominal
            assert before_production[3]["visitseq_uuid"] == nominal  # find_latest_prenight_sim_for_nights
            assert len(before_production[-1]["rows"]) > 0  # obsloctap's visits

            clock["now"] = BACKFILL_RUN
            backfilled = {
                night: materialized(
                    _materialize(night, resource, instance, site_data), TELESCOPE, "prenight_sims"
                )
                for night in PAST
            }

            # The backfills' simulations are re-simulations of the past and cover tonight...
            for night, md in backfilled.items():
                uuid = md["sequences"]["nominal"]
                row = vsa.get_metadata(uuid, table="simulations")
                assert row["first_day_obs"] == night and row["last_day_obs"] >= TONIGHT
                assert row["creation_time"] == BACKFILL_RUN
                tags = set(vsa.metadata.get_tags(uuid))
                assert tags == {"resimulation", "ideal", "nominal", "approximate_sky"}

            # ... and every reader's answer for tonight is what it was.
            assert _vseq_answers(reader, io_manager) == before
            assert _vseq_answers(offline, io_manager) == before_offline
            # The snapshots keep 10 decimals of each statistic; everything else is the database's.
            assert {k: v for k, v in before_offline.items() if k != "stats"} == {
                k: v for k, v in before.items() if k != "stats"
            }
            assert json.loads(ResourcePath(snapshot).read()) == before_snapshot
            assert _production_answers(production, pg_url, resource) == before_production

            # Each past partition reads back as its own simulation, whatever its age.
            for night, md in backfilled.items():
                own = md["sequences"]["nominal"]
                planned = load_partition(f"{TELESCOPE}/prenight_sims", night, reader=reader)
                expected = vsa.get_visits(own, nights=[night])
                assert len(planned) == len(expected) > 0
                assert planned["observationStartMJD"].tolist() == expected["observationStartMJD"].tolist()
                rows = load_partition(f"{TELESCOPE}/prenight_metadata", night, reader=reader)
                assert sorted(rows.index) == sorted(md["sequences"].values())

            # Tonight's briefing shows tonight's run only, not the backfills covering tonight.
            tonight_briefing = _briefing_of(instance, TONIGHT)
            assert tonight_briefing["nominal_uuid"] == nominal and tonight_briefing["variant_count"] == 2

            # A partition re-run with resimulate, later: the briefing shows the new run's variants.
            # (Its own creation time: at the same instant both runs' nominals would tie on the
            # "newest nominal" the briefing picks its run by.)
            clock["now"] = BACKFILL_RUN + dt.timedelta(minutes=10)
            again = materialized(
                _materialize(PAST[1], resource, instance, site_data, resimulate=True),
                TELESCOPE,
                "prenight_sims",
            )
            assert set(again["sequences"].values()).isdisjoint(backfilled[PAST[1]]["sequences"].values())
            rerun_briefing = _briefing_of(instance, PAST[1])
            assert rerun_briefing["nominal_uuid"] == again["sequences"]["nominal"]
            assert rerun_briefing["variant_count"] == 2
            rows = load_partition(f"{TELESCOPE}/prenight_metadata", PAST[1], reader=reader)
            assert sorted(rows.index) == sorted(again["sequences"].values())
    finally:
        offline.close()
        vsa.metadata.close()


def _briefing_of(instance: DagsterInstance, night: dt.date) -> dict[str, Any]:
    """The metadata of the latest briefing materialization of ``night``'s partition."""
    from dagster import AssetRecordsFilter

    records = instance.fetch_materializations(
        AssetRecordsFilter(
            asset_key=AssetKey([TELESCOPE, "prenight_briefing"]), asset_partitions=[night.isoformat()]
        ),
        limit=1,
    ).records
    (record,) = records
    metadata = record.asset_materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}
