"""rubin_scheduler's output in the pre-night step's log: each distinct message once, at its
level, with its count; nothing printed raw (a real simulation on a real Dagster instance)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from vseq_assets.prenight import prenight_simulation_assets
from vseq_resources.dagster_resources import ArchiveResource, PrenightSimulationResource


def test_simulation_output_goes_to_the_step_log_once(
    archive_resource: ArchiveResource, tmp_path: Path, capfd: pytest.CaptureFixture, monkeypatch
) -> None:
    monkeypatch.delenv("RUBIN_SIM_DATA_DIR", raising=False)
    prenight = PrenightSimulationResource(
        nights=1, duration_hours=0.5, variants=["nominal"], site_data_dir=str(tmp_path / "site_data")
    )
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [prenight_simulation_assets("simonyi")],
            partition_key="2026-12-05",
            resources={"archive": archive_resource, "prenight": prenight},
            instance=instance,
        )
        assert result.success
        logs = [
            (entry.level, entry.user_message)
            for entry in instance.all_logs(result.run_id)
            if entry.step_key and "rubin_scheduler" in entry.user_message
        ]
    messages = [text for _, text in logs]
    detailers = [(level, text) for level, text in logs if "No detailers provided" in text]
    assert detailers == [(logging.INFO, detailers[0][1])] and "(once)" in detailers[0][1], messages
    completed = [(level, text) for level, text in logs if re.search(r"stdout \(once\): Completed \d+", text)]
    assert [level for level, _ in completed] == [logging.DEBUG], messages
    assert len(messages) == len(set(messages))  # each distinct message once
    out, err = capfd.readouterr()
    raw = [
        line
        for line in (out + err).splitlines()
        if re.match(r"(Completed|Skipped|Flushed) \d+|\s+warnings\.warn", line)
    ]
    assert not raw, raw
