"""Two archives holding the same simulations: one written by vseq, one by production.

Each is written the way production writes one: the same ``vseqarchive`` batch (same commands,
arguments and input files; creation times given, so names like "2026-12-05 #1" agree) through
each implementation's own command line, plus one simulation through each one's Python API. vseq's
archive lives on S3 (SeaweedFS) in a schema vseq created; production's on a ``file://`` store in a
schema production created. The readers' answers from both are then compared, after
:func:`normalize` replaces what must differ (UUIDs, store and index bases, comment times).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner

from vseq_resources.cli import cli
from vseq_tests.resources.cli.support import make_opsim_db, opsim_visits

from .conftest import NIGHTS

TELESCOPE = "simonyi"
STATS_COLUMNS = ("azimuth", "altitude")


@dataclass
class Inputs:
    """The files both batches read."""

    opsim: Path
    older: Path
    empty_h5: Path
    api_h5: Path
    rewards: Path
    work: Path
    created: dict[str, str]

    @classmethod
    def make(cls, work: Path, now: dt.datetime) -> Inputs:
        from vseq_tests.resources.cli.support import make_rewards_h5

        work.mkdir(parents=True, exist_ok=True)
        empty = opsim_visits(NIGHTS[:1], per_night=0)
        empty.to_hdf(work / "empty.h5", key="observations", mode="w")
        (work / "api").mkdir(exist_ok=True)  # stored under its own name by production's API
        opsim_visits(NIGHTS, per_night=25, seed=7).to_hdf(
            work / "api" / "visits.h5", key="observations", mode="w"
        )
        return cls(
            opsim=make_opsim_db(work / "opsim.db", nights=NIGHTS, per_night=30, seed=3),
            older=make_opsim_db(work / "older.db", nights=NIGHTS, per_night=20, seed=5),
            empty_h5=work / "empty.h5",
            api_h5=work / "api" / "visits.h5",
            rewards=make_rewards_h5(work / "rewards.h5"),
            work=work,
            created={
                "older": _iso(now - dt.timedelta(hours=5)),
                "empty": _iso(now - dt.timedelta(hours=4)),
                "api": _iso(now - dt.timedelta(hours=3)),
                "nominal": _iso(now - dt.timedelta(hours=2)),
            },
        )


def _iso(time: dt.datetime) -> str:
    return time.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def batch(inputs: Inputs, name: str, base: str, index: str) -> list[tuple[str | None, list[str]]]:
    """The production batch sequence: (name to save the printed value under, arguments).

    ``{nominal}``, ``{older}``, ``{empty}``, ``{conda}`` stand for values printed earlier.
    """
    visits_h5 = str(inputs.work / f"{name}-visits.h5")
    older_h5 = str(inputs.work / f"{name}-older.h5")
    back_db = str(inputs.work / f"{name}-back.db")
    steps: list[tuple[str | None, list[str]]] = [
        ("older", _record(inputs.older, "Older ideal", inputs.created["older"])),
        (None, ["archive-file", "{older}", str(inputs.older), "visits", "--archive-base", base]),
        (None, ["tag", "{older}", "prenight", "ideal"]),
        (None, ["get-file", "{older}", "visits", older_h5]),
        (None, ["add-nightly-stats", "{older}", older_h5]),
        ("empty", _record(inputs.empty_h5, "Empty", inputs.created["empty"])),
        (None, ["tag", "{empty}", "prenight"]),
        (None, ["add-nightly-stats", "{empty}", str(inputs.empty_h5)]),
        ("nominal", _record(inputs.opsim, "Nominal prenight", inputs.created["nominal"])),
        (None, ["archive-file", "{nominal}", str(inputs.opsim), "visits", "--archive-base", base]),
        (None, ["archive-file", "{nominal}", str(inputs.rewards), "rewards", "--archive-base", base]),
        (None, ["tag", "{nominal}", "prenight", "ideal", "nominal"]),
        (None, ["comment", "{nominal}", "compat batch", "--author", "compat"]),
        (None, ["get-file", "{nominal}", "visits", visits_h5]),
        (None, ["add-nightly-stats", "{nominal}", visits_h5, *STATS_COLUMNS]),
        ("conda", ["record-conda-env"]),
        (None, ["update-visitseq-metadata", "{nominal}", "conda_env_sha256", "{conda}"]),
        (None, ["update-visitseq-metadata", "{nominal}", "scheduler_version", "4.6.0"]),
        (None, ["get-visitseq-url", "{nominal}"]),
        (None, ["is-tagged", "{nominal}", "nominal"]),
        (None, ["get-comments", "{nominal}"]),
        (None, ["query-nightly-stats", "{nominal}"]),
        (None, ["get-visitseq-metadata", "{nominal}"]),
        (None, ["get-file", "{nominal}", "visits", back_db]),
    ]
    steps += [(None, ["make-prenight-index", night, TELESCOPE, "--destination", index]) for night in NIGHTS]
    return steps


def _record(visits: Path, label: str, created: str) -> list[str]:
    return [
        "record-visitseq-metadata",
        "simulations",
        str(visits),
        label,
        "--telescope",
        TELESCOPE,
        "--first_day_obs",
        NIGHTS[0],
        "--last_day_obs",
        NIGHTS[-1],
        "--creation_time",
        created,
    ]


@dataclass
class Archive:
    """One archive: where it is, and what its batch printed."""

    name: str
    schema: str
    base: str
    index: str
    env: dict[str, str]
    uuids: dict[str, str] = field(default_factory=dict)
    printed: list[dict[str, Any]] = field(default_factory=list)

    def normalize(self, value: Any) -> Any:
        return normalize(value, self)


def run_vseq_batch(archive: Archive, steps: list[tuple[str | None, list[str]]]) -> None:
    """The batch through vseq's ``vseqarchive``, in this process."""
    runner = CliRunner()
    for save_as, args in steps:
        args = [_substitute(a, archive.uuids) for a in args]
        result = runner.invoke(cli, args, env=archive.env, catch_exceptions=False)
        archive.printed.append(
            {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
        )
        if save_as is not None:
            archive.uuids[save_as] = result.stdout.strip()


def _substitute(text: str, saved: dict[str, str]) -> str:
    for key, value in saved.items():
        text = text.replace("{" + key + "}", value)
    return text


_COMMENT_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)")
_TEMP_H5 = re.compile(r"file:///tmp/[^ \n]*/visits\.h5")


def normalize(value: Any, archive: Archive) -> Any:
    """``value`` with what differs between two archives of the same content replaced by names:
    each sequence's UUID by its name, the store and index bases, comment times, temporary files,
    and the batch's per-archive file names."""
    if isinstance(value, dict) and set(value) == {"columns", "index", "rows", "dtypes"}:
        # A frame: rows in a canonical order, since production's queries have no ORDER BY and
        # their row order is no part of the interface (it changes with the query plan). A
        # positional index is left as it is and the rows alone are ordered.
        index, rows = normalize(value["index"], archive), normalize(value["rows"], archive)
        if index == list(range(len(rows))):
            return {**value, "rows": sorted(rows, key=str)}
        pairs = sorted(zip(index, rows, strict=True), key=str)
        return {**value, "index": [i for i, _ in pairs], "rows": [r for _, r in pairs]}
    if isinstance(value, dict):
        if value and all(isinstance(k, str) and _COMMENT_TIME.fullmatch(k) for k in value):
            return _comments(value)  # a comments object: comment time -> comment
        return {
            normalize(k, archive): (_comments(v) if k == "comments" else normalize(v, archive))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalize(v, archive) for v in value]
    if isinstance(value, str):
        text = value
        for name, uuid in archive.uuids.items():
            if name != "conda":
                text = text.replace(uuid, f"<{name}>")
        text = text.replace(archive.base, "<store>/").replace(archive.index, "<index>/")
        text = text.replace(str(Path(archive.base.removeprefix("file://"))), "<store>")
        text = text.replace(f"{archive.name}-", "<archive>-")
        return _TEMP_H5.sub("<tmp>/visits.h5", text)
    return value


def _comments(value: Any) -> Any:
    if isinstance(value, dict):
        return {f"<comment time {i}>": v for i, (_, v) in enumerate(sorted(value.items()))}
    if isinstance(value, str):
        return _COMMENT_TIME.sub("<comment time>", value)
    return value


def comment_times(text: str) -> str:
    return _COMMENT_TIME.sub("<comment time>", text)


def visits_frame(value: dict[str, Any]) -> pd.DataFrame:
    """A frame from the driver's plain form (columns, rows)."""
    return pd.DataFrame(value["rows"], columns=value["columns"])
