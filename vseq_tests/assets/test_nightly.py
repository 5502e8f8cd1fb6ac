"""`vseq-nightly` against configured services (the local-simulation path is the README's demo)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.pool import NullPool

from vseq_assets.nightly import keep_storage_connections, main, prepare_dagster_home
from vseq_resources.dagster_resources import ArchiveResource
from vseq_tests.assets.conftest import EMPTY_NIGHT, LSSTCAM_VISITS, NIGHT
from vseq_tests.assets.helpers import prenight_clock


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    archive_resource: ArchiveResource,
    consdb_url: str,
    dagster_pg_url: str,
) -> Iterator[Path]:
    archive_resource.open().metadata.close()  # a configured database is migrated beforehand
    settings = archive_resource.settings()
    state_dir = tmp_path / "state"
    monkeypatch.setenv("VSEQ_STATE_DIR", str(state_dir))
    monkeypatch.setenv("VSEQ_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VSARCHIVE_PGSCHEMA", settings.schema)
    monkeypatch.setenv("VSEQ_ARCHIVE_URI", settings.store_uri)
    monkeypatch.setenv("VSEQ_CONSDB_URL", consdb_url)
    monkeypatch.setenv("VSEQ_DAGSTER_PG_URL", dagster_pg_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))  # restored after the test
    prenight_clock(monkeypatch, EMPTY_NIGHT)  # the pre-night of NIGHT + 1, run the afternoon before it
    # vseq-nightly sets the figure server's URL in this process: removed again after the test.
    monkeypatch.setenv("VSEQ_STORE_HTTP_URL", "http://unused.invalid/")
    monkeypatch.delenv("VSEQ_STORE_HTTP_URL")
    yield state_dir
    from vseq_resources import figure_server

    figure_server.stop(state_dir)


def test_nightly_with_configured_services(configured: Path) -> None:
    args = ["--prenight-variant", "nominal", "--prenight-hours", "0.5", "--prenight-nights", "2"]
    result = CliRunner().invoke(main, [NIGHT.replace("-", ""), "--telescope", "simonyi", *args])
    assert result.exit_code == 0, result.output + str(result.exception)
    out = result.stdout
    assert f"simonyi {NIGHT}: OK" in out
    assert f"visits    {LSSTCAM_VISITS}" in out
    assert "check     visits_file_reads_back: passed" in out
    assert "dagster dev -m vseq_assets.definitions" in out
    assert "vseq-services start" in out  # what to run after a reboot
    assert "briefing figures served at http://127.0.0.1:" in result.stderr
    assert "VSEQ_STORE_HTTP_URL=http://127.0.0.1:" in out  # the UI links the figures through it
    assert (configured / "dagster_home" / "dagster.yaml").is_file()
    following = "2025-10-17"  # NIGHT + 1, pre-loaded with the completed visits of NIGHT
    assert f"simonyi pre-night {following}: OK" in out
    preloaded = f"pre-loaded {LSSTCAM_VISITS} completed visits of 1 night(s), 0 empty"
    assert f"{preloaded}; site data vseq_approximate" in out
    assert "check     simulated_after_preloaded: passed" in out
    assert "check     simulations_read_back: passed" in out
    (index_line,) = [line for line in out.splitlines() if line.strip().startswith("index ")]
    assert "2025-10-18" in index_line  # --prenight-nights 2: the index covers both nights
    assert "using the configured ConsDB; nothing is simulated" in result.stderr
    (added,) = [line for line in out.splitlines() if line.startswith("  nominal ")]
    assert added.split()[1] == "added"
    assert "  simulations 1 added, 0 reused (archived earlier with the same inputs)" in out

    # The same night again, same inputs: the pre-night simulation is reused, and the summary says so.
    rerun = CliRunner().invoke(main, [NIGHT.replace("-", ""), "--telescope", "simonyi", *args])
    assert rerun.exit_code == 0, rerun.output + str(rerun.exception)
    (reused,) = [line for line in rerun.stdout.splitlines() if line.startswith("  nominal ")]
    assert reused.split()[1:3] == ["reused", added.split()[2]]
    assert "  simulations 0 added, 1 reused (archived earlier with the same inputs)" in rerun.stdout

    # It ends with the review of the night it archived: no pre-night simulation of NIGHT yet.
    verdict = f"Night {NIGHT}, simonyi: {LSSTCAM_VISITS} visits observed; no pre-night simulation of {NIGHT}"
    assert verdict in out and out.index(verdict) > out.index("dagster dev -m vseq_assets.definitions")

    # The next day's night was simulated by the run above; nothing was observed: the review is the loss.
    again = CliRunner().invoke(main, [EMPTY_NIGHT, "--telescope", "simonyi", "--no-prenight"])
    assert again.exit_code == 0, again.output
    assert "visits    0" in again.stdout
    last = again.stdout.strip().splitlines()
    (verdict_line,) = [line for line in last if line.startswith(f"Night {EMPTY_NIGHT}, simonyi:")]
    assert verdict_line.startswith(f"Night {EMPTY_NIGHT}, simonyi: 0 of ")
    assert verdict_line.endswith("nothing observed, the whole planned night (0.5 h) was lost")
    nominal_uuid = added.split()[2]  # "  nominal    added <uuid> ..."
    (plan_line,) = [line for line in again.stdout.splitlines() if line.startswith("  plan      ")]
    assert plan_line.endswith(f"{nominal_uuid} (its run: 1 simulation(s))")
    assert "empty     ConsDB has 20 exposure(s) of day_obs 20251017" in again.stdout
    assert "check     night_has_visits: FAILED" in again.stdout  # a warning: the run is OK
    assert f"simonyi {EMPTY_NIGHT}: OK" in again.stdout


def test_nightly_refuses_a_night_that_has_not_ended() -> None:
    result = CliRunner().invoke(main, ["2999-01-01"])
    assert result.exit_code != 0
    assert "has not ended yet" in result.output


def test_keep_storage_connections_pools_dagster_storage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dagster_pg_url: str
) -> None:
    from dagster import DagsterInstance

    monkeypatch.setenv("VSEQ_DAGSTER_PG_URL", dagster_pg_url)
    home = prepare_dagster_home(tmp_path)
    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage._engine.pool, NullPool)  # dagster-postgres' default
        keep_storage_connections(instance)
        for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
            assert not isinstance(storage._engine.pool, NullPool)
        assert instance.get_runs() == []


def test_nightly_fails_first_on_a_bad_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VSEQ_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("VSEQ_PRENIGHT_NIGHTS", "three")
    result = CliRunner().invoke(main, [NIGHT])
    assert result.exit_code == 1
    assert result.output == (
        "Error: VSEQ_PRENIGHT_NIGHTS='three' is not a whole number from 1 to 14: fix it or unset it\n"
    )
    assert not (tmp_path / "state").exists()  # nothing was started or written
