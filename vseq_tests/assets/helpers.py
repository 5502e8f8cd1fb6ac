"""Run the real per-telescope assets and checks through ``dagster.materialize``."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult, UrlMetadataValue, materialize

from vseq_assets.completed import completed_sequence_assets
from vseq_assets.consdb import consdb_visits_asset
from vseq_resources.config import ArchiveSettings
from vseq_resources.dagster_resources import ArchiveResource


def materialize_night(
    telescope: str,
    night: str,
    resources: dict[str, Any],
    *,
    instance: DagsterInstance | None = None,
    raise_on_error: bool = True,
    downstream: Sequence[Any] = (),
    **consdb_options: Any,
) -> ExecuteInProcessResult:
    """Materialize a night's ConsDB visits and completed sequence (its checks run in the step),
    and ``downstream`` assets in the same run; ``consdb_options`` go to ``consdb_visits_asset``."""
    return materialize(
        [consdb_visits_asset(telescope, **consdb_options), completed_sequence_assets(telescope), *downstream],
        partition_key=night,
        resources=resources,
        instance=instance,
        raise_on_error=raise_on_error,
    )


def materialized(result: ExecuteInProcessResult, telescope: str, name: str) -> dict[str, Any]:
    """Metadata values of the materialization of ``<telescope>/<name>`` in a run."""
    key = AssetKey([telescope, name])
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key == key:
            return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    raise AssertionError(f"{key.to_user_string()} was not materialized")


def links_a_browser_refuses(result: ExecuteInProcessResult) -> list[str]:
    """Every ``file://`` link in the metadata of a run's materializations and check results
    (the UI would show it as a link that a browser does not open)."""
    metadata = [e.materialization.metadata for e in result.get_asset_materialization_events()]
    metadata += [e.metadata for e in result.get_asset_check_evaluations()]
    return [
        f"{name}: {value.url}"
        for entries in metadata
        for name, value in entries.items()
        if isinstance(value, UrlMetadataValue) and value.url.startswith("file:")
    ]


def check_results(result: ExecuteInProcessResult) -> dict[str, Any]:
    """Check name -> evaluation of every asset check of a run."""
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def file_archive_resource(pg_url: str, db_schema: str, tmp_path: Path) -> ArchiveResource:
    """An archive in the metadata schema ``db_schema`` and a new ``file://`` store in ``tmp_path``."""
    store = tmp_path / "archive"
    store.mkdir()
    return ArchiveResource(
        database_url=pg_url,
        db_schema=db_schema,
        archive_uri=store.as_uri() + "/",
        state_dir=str(tmp_path / "state"),
        migrate=True,
    )


def use_archive_from_environment(monkeypatch: pytest.MonkeyPatch, settings: ArchiveSettings) -> None:
    """Point the environment (what ``vseqarchive`` and ``load_partition`` read) at ``settings``."""
    for name in ("VSARCHIVE_PGHOST", "VSARCHIVE_PGDATABASE", "VSARCHIVE_PGUSER", "VSARCHIVE_PGPORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VSEQ_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("VSARCHIVE_PGSCHEMA", settings.schema)
    monkeypatch.setenv("VSEQ_ARCHIVE_URI", settings.store_uri)
    monkeypatch.setenv("VSEQ_PRENIGHT_INDEX_URI", settings.index_uri)


def index_resource(archive_resource: ArchiveResource, tmp_path: Path) -> ArchiveResource:
    """The test archive, with its index snapshots in a directory of their own."""
    return ArchiveResource(
        database_url=archive_resource.database_url,
        db_schema=archive_resource.db_schema,
        archive_uri=archive_resource.archive_uri,
        prenight_index_uri=(tmp_path / "prenight_index").as_uri(),
        state_dir=archive_resource.state_dir,
        migrate=True,
    )


def prenight_clock(monkeypatch: pytest.MonkeyPatch, night: str | dt.date) -> None:
    """Run pre-night simulations of ``night`` in the afternoon before it (18:00 UTC, a minute
    later at each call), as its schedule does: their simulations are predictions of the night,
    not re-simulations of the past (``vseq_resources.prenight_runs``)."""
    from vseq_resources import prenight
    from vseq_resources.dayobs import parse_dayobs

    day = parse_dayobs(night)
    start = dt.datetime(day.year, day.month, day.day, 18, tzinfo=dt.UTC)
    minutes = itertools.count()
    monkeypatch.setattr(prenight, "utc_now", lambda: start + dt.timedelta(minutes=next(minutes)))
