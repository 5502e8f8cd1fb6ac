"""``vseq-nightly``'s pre-night summary says, per variant, what the run added and what it reused."""

from __future__ import annotations

import datetime as dt

from vseq_resources.nightly_summary import PrenightResult, prenight_summary

NOMINAL = "0b7c52a8-5a3e-4f55-9f3b-3f1b1c1e2d4a"
DELAYED = "7d2f3a9e-1c4b-4e8e-a6f0-2b9d8c7e6f50"


def _result(outcome: dict[str, str], resimulations: list[str] | None = None) -> PrenightResult:
    metadata = {
        "sequences": {"nominal": NOMINAL, "delay_60": DELAYED},
        "visit_counts": {"nominal": 40, "delay_60": 30},
        "bands": {"nominal": {"g": 40}, "delay_60": {"r": 30}},
        "outcome": outcome,
        "resimulations": resimulations or [],
        "preloaded_visits": 120,
        "site_data_kind": "vseq_approximate",
    }
    return PrenightResult("simonyi", dt.date(2026, 4, 11), True, "run-1", metadata, {})


def test_summary_says_added_and_reused() -> None:
    lines = prenight_summary(_result({"nominal": f"reused {NOMINAL}", "delay_60": "added"}))
    assert f"  nominal    reused {NOMINAL}  40 visits (g: 40)" in lines
    assert f"  delay_60   added  {DELAYED}  30 visits (r: 30)" in lines
    assert "  simulations 1 added, 1 reused (archived earlier with the same inputs)" in lines
    assert not any("re-simulation" in line for line in lines)


def test_summary_names_resimulations() -> None:
    lines = prenight_summary(_result({"nominal": "added", "delay_60": "added"}, ["nominal", "delay_60"]))
    assert "  simulations 2 added, 0 reused (archived earlier with the same inputs)" in lines
    (note,) = [line for line in lines if line.startswith("  note")]
    assert "nominal, delay_60: re-simulation(s) of the past" in note
