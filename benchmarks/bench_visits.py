"""Benchmark of archiving and reading visits: one night and a ten-year survey.

Run with ``.venv/bin/python benchmarks/bench_visits.py [--visits 2000000] [--json PATH]``.

Synthetic visits in the opsim ``observations`` schema (48 columns, the dtypes of
``vseq_resources.consdb.convert.empty_opsim_visits``; strings as pandas 3 makes them), sorted by
time: one night of 1,000 visits, and ten years of about 2 million (about 550 per night, one night
in five lost). For each, through the API on a ``file://`` store and a real PostgreSQL schema:

- **record**: ``VisitSequenceArchive.record_sequence`` end to end (content hash, nightly
  statistics, ``visits.h5`` written, stored with fsync and read back for its checksum, metadata
  registered), with the time of ``write_visits_h5`` alone;
- **read**: ``VisitSequenceArchive.get_visits`` (the whole table);
- **one night** (ten years only): ``get_visits(nights=[...])`` against reading the whole file with
  ``pandas.read_hdf`` and filtering (what the reference's readers do), each in a fresh process so
  that its peak RSS is its own, alternated three times (medians; that ratio's baseline is the
  read-then-filter, not a copy);
- baselines on the same disk: a plain copy of the file's bytes (read, write, fsync) and a plain
  read of them (page cache warm, as for the reads above);
- size: bytes per visit in ``visits.h5``, uncompressed (the same frame in the fixed format without
  compression) and in memory;
- readability: ``pandas.read_hdf(path, key="observations")`` under pandas 2 (the interpreter the
  tests build at ``/var/tmp/vseq-pandas2-venv``, skipped when absent) and pandas 3.

"The copy" in every ratio is the plain copy above: this ``visits.h5``'s bytes read from the page
cache, written to a new file on the same disk and fsynced. Prints times, ratios, peak RSS, the load
average and this process's CPU time; timings are never asserted. For the ten-year file of the
issue (2.2M visits): ``--visits 2200000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.consdb.convert import empty_opsim_visits
from vseq_resources.dayobs import dayobs_mjd_start
from vseq_resources.metadata import MetadataDatabase
from vseq_resources.store import ArchiveStore, sha256_of_path
from vseq_resources.visits import (
    OBSERVATIONS_KEY,
    compute_nightly_stats,
    dayobs_ordinals,
    read_visits_h5,
    visits_content_hash,
    write_visits_h5,
)
from vseq_resources.visits import h5 as visits_module
from vseq_resources.visits.h5 import COMPLEVEL, COMPLIB
from vseq_tests import services

REPO = Path(__file__).resolve().parents[1]
PANDAS2_PYTHON = Path("/var/tmp/vseq-pandas2-venv/bin/python")
SURVEY_START = dt.date(2026, 1, 1)
ONE_NIGHT = dt.date(2026, 12, 1)

SCHEDULER_NOTES = [
    f"{kind}, {bands}, {ab}"
    for kind in ("blob_long", "pair_33", "pair_15", "long")
    for bands in ("gr", "iz", "ug", "ri", "zy")
    for ab in "ab"
]
SCHEDULER_NOTES += [
    "greedy",
    "DD:COSMOS",
    "DD:ELAISS1",
    "DD:XMM_LSS",
    "DD:ECDFS",
    "DD:EDFS_a",
    "twilight_near_sun, 0",
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_observations(
    first_day_obs: dt.date, nights: int, per_night: int, seed: int = 1
) -> pd.DataFrame:
    """Opsim-schema visits, sorted by time: ``per_night`` on average per night, one night in five
    lost to weather (``nights=1``: exactly ``per_night``). Values have realistic ranges and
    precision (full-precision floats where opsim has them, a few constant or low-cardinality
    columns), so that compression behaves as on real files."""
    rng = np.random.default_rng(seed)
    if nights == 1:
        counts = np.array([per_night])
    else:
        counts = rng.poisson(per_night / 0.8, nights) * (rng.uniform(size=nights) > 0.2)
    n = int(counts.sum())
    night = np.repeat(np.arange(nights), counts)
    start = dayobs_mjd_start(first_day_obs) + 0.5 + night  # 00:00 UTC-12 ... roughly evening twilight
    offset = np.concatenate([np.sort(rng.uniform(0.02, 0.37, c)) for c in counts])
    mjd = start + offset
    template = empty_opsim_visits(0)
    band = rng.choice(list("ugrizy"), n, p=[0.07, 0.09, 0.22, 0.22, 0.2, 0.2])
    alt = rng.uniform(25, 88, n)
    values: dict[str, Any] = {
        "observationId": np.arange(n, dtype=np.int64),
        "fieldRA": rng.uniform(0, 360, n),
        "fieldDec": np.degrees(np.arcsin(rng.uniform(-1, 0.2, n))),
        "observationStartMJD": mjd,
        "flush_by_mjd": mjd + rng.uniform(0.0, 0.05, n),
        "visitExposureTime": np.where(band == "u", 38.0, 30.0),
        "band": band,
        "filter": band,
        "rotSkyPos": rng.uniform(0, 360, n),
        "rotSkyPos_desired": rng.uniform(0, 360, n),
        "numExposures": np.where(band == "u", 1, 2).astype(np.int64),
        "airmass": 1 / np.sin(np.radians(alt)),
        "seeingFwhm500": rng.lognormal(-0.3, 0.2, n),
        "seeingFwhmEff": rng.lognormal(-0.1, 0.2, n),
        "seeingFwhmGeom": rng.lognormal(-0.25, 0.2, n),
        "skyBrightness": rng.normal(20.5, 1.0, n),
        "night": night.astype(np.int64) + 1,
        "slewTime": rng.exponential(6, n) + 2,
        "visitTime": np.where(band == "u", 39.0, 34.0),
        "slewDistance": rng.exponential(4, n),
        "fiveSigmaDepth": rng.normal(23.8, 0.6, n),
        "altitude": alt,
        "azimuth": rng.uniform(0, 360, n),
        "paraAngle": rng.uniform(-180, 180, n),
        "pseudoParaAngle": rng.uniform(-180, 180, n),
        "cloud": np.zeros(n),
        "moonAlt": 40 * np.sin(mjd * 2 * np.pi / 27.3),
        "sunAlt": -12 - 30 * np.sin(np.pi * offset / 0.39),
        "scheduler_note": rng.choice(SCHEDULER_NOTES, n),
        "target_name": np.where(rng.uniform(size=n) < 0.06, "DD:COSMOS", ""),
        "target_id": rng.integers(0, 50, n),
        "observationStartLST": (mjd * 360.985647) % 360,
        "rotTelPos": rng.uniform(-90, 90, n),
        "rotTelPos_backup": rng.uniform(-90, 90, n),
        "moonAz": (mjd * 13.2) % 360,
        "sunAz": (mjd * 0.9856 + 180) % 360,
        "sunRA": (mjd * 0.9856) % 360,
        "sunDec": 23.44 * np.sin(mjd * 2 * np.pi / 365.25),
        "moonRA": (mjd * 13.176) % 360,
        "moonDec": 28 * np.sin(mjd * 2 * np.pi / 27.3),
        "moonDistance": rng.uniform(20, 180, n),
        "solarElong": rng.uniform(50, 180, n),
        "moonPhase": 50 + 50 * np.cos(mjd * 2 * np.pi / 29.53),
        "cummTelAz": rng.uniform(-270, 270, n),
        "observation_reason": rng.choice(["triplet", "pairs", "fbs_driven", "ddf"], n),
        "science_program": np.full(n, "BLOCK-407"),
        "cloud_extinction": np.zeros(n),
        "extinction_limit": np.full(n, 0.5),
    }
    frame = pd.DataFrame({name: values[name] for name in template.columns})
    for column, dtype in template.dtypes.items():
        if dtype.kind in "iuf":
            frame[column] = frame[column].astype(dtype)
        else:  # pandas 3 strings, as read from an opsim sqlite file
            frame[column] = pd.Series(list(map(str, frame[column])), dtype="str")
    return frame


def seconds(call: Callable[[], Any], reps: int = 1) -> tuple[float, Any]:
    """Median wall time of ``reps`` calls, and the last call's result."""
    times = []
    result = None
    for _ in range(reps):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


NIGHT_READ_REPS = 3


def _median_seconds(runs: list[dict[str, Any]]) -> float:
    return statistics.median(r["seconds"] for r in runs)


def _times(runs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['seconds']:.3f}" for r in runs) + " s"


def plain_copy(source: Path, target: Path) -> None:
    """What the store does at best: read the bytes, write them, fsync."""
    with open(source, "rb") as inp, open(target, "wb") as out:
        shutil.copyfileobj(inp, out, 8 * 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())


def plain_read(path: Path) -> int:
    total = 0
    with open(path, "rb") as inp:
        while chunk := inp.read(8 * 1024 * 1024):
            total += len(chunk)
    return total


# Children report VmHWM (their own peak RSS: ru_maxrss would include the parent's, kept over exec)
# and time the read alone (imports done first).
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

CHILD_READ = (
    PEAK
    + """
import json, sys, time
import numpy as np, pandas as pd, tables, lsst.resources
from vseq_resources.dayobs import parse_dayobs
from vseq_resources.visits import dayobs_ordinals, read_visits_h5
mode, path, night = sys.argv[1], sys.argv[2], sys.argv[3]
before = peak_mb()
started = time.perf_counter()
if mode == "night":
    frame = read_visits_h5(path, nights=[night])
else:  # the reference reader: read everything, then keep the night's visits
    whole = pd.read_hdf(path, key="observations")
    frame = whole[dayobs_ordinals(whole["observationStartMJD"]) == parse_dayobs(night).toordinal()]
took = time.perf_counter() - started
print(json.dumps({"seconds": took, "rows": len(frame), "peak_rss_mb": peak_mb(), "after_imports_mb": before}))
"""
)

CHILD_PANDAS = (
    PEAK
    + """
import json, sys, time
import pandas as pd, tables
started = time.perf_counter()
frame = pd.read_hdf(sys.argv[1], key="observations")
print(json.dumps({"pandas": pd.__version__, "seconds": time.perf_counter() - started, "rows": len(frame),
                  "columns": len(frame.columns), "first": float(frame["observationStartMJD"].iloc[0]),
                  "band": str(frame["band"].iloc[-1]), "peak_rss_mb": peak_mb()}))
"""
)


def child(python: Path | str, code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (imports excluded from its own timing)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    done = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{python} failed: {done.stderr.strip()[-800:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def bench_sequence(
    archive: VisitSequenceArchive, name: str, frame: pd.DataFrame, workdir: Path, reps: int
) -> dict[str, Any]:
    n = len(frame)
    print(f"\n== {name}: {n:,} visits, {len(frame.columns)} columns ==", flush=True)
    out: dict[str, Any] = {"visits": n}

    local = workdir / f"{name}-direct.h5"
    out["write_h5_s"], _ = seconds(lambda: write_visits_h5(local, frame), reps)
    out["hash_s"], _ = seconds(lambda: visits_content_hash(frame), reps)
    out["stats_s"], _ = seconds(lambda: compute_nightly_stats(frame), reps)
    record_s, recorded = seconds(
        lambda: archive.record_sequence(
            "simulations", frame, label=f"benchmark {name}", telescope="simonyi", tags=("benchmark",)
        ),
        reps,
    )
    out["record_s"] = record_s
    url = recorded.visitseq_url
    path = Path(url.removeprefix("file://"))
    size = path.stat().st_size
    uncompressed = workdir / f"{name}-uncompressed.h5"
    as_objects = frame.astype({c: object for c, t in frame.dtypes.items() if t.kind not in "iuf"})
    as_objects.to_hdf(uncompressed, key=OBSERVATIONS_KEY, format="fixed", mode="w")
    out["bytes_per_visit"] = size / n
    out["uncompressed_bytes_per_visit"] = uncompressed.stat().st_size / n
    out["memory_bytes_per_visit"] = frame.memory_usage(deep=True).sum() / n

    copy_target = workdir / f"{name}-copy.h5"
    out["plain_copy_s"], _ = seconds(lambda: plain_copy(path, copy_target), reps)
    out["plain_read_s"], _ = seconds(lambda: plain_read(path), reps)
    out["read_s"], back = seconds(lambda: archive.get_visits(recorded.uuid), reps)
    assert len(back) == n and list(back.columns) == list(frame.columns)
    del back
    out["checksum_s"], _ = seconds(lambda: sha256_of_path(path), reps)
    out["read_h5_s"], _ = seconds(lambda: read_visits_h5(path), reps)

    print(
        f"  visits.h5: {size / 1e6:8.2f} MB = {out['bytes_per_visit']:6.0f} B/visit "
        f"(uncompressed fixed format {out['uncompressed_bytes_per_visit']:.0f} B/visit, "
        f"in memory {out['memory_bytes_per_visit']:.0f} B/visit)"
    )
    copy_s = out["plain_copy_s"]
    print(
        f"  plain copy of the bytes (read, write, fsync) {copy_s:.3f} s; "
        f"plain read {out['plain_read_s']:.4f} s\n"
        "  ('the copy' below = that plain copy: this visits.h5's bytes read from the page cache, "
        "written to a new file on the same disk and fsynced, what the store does at best)"
    )
    print(
        f"  write_visits_h5            {out['write_h5_s']:8.3f} s "
        f"-> x{out['write_h5_s'] / copy_s:.1f} the copy"
    )
    print(
        f"  record_sequence end to end {record_s:8.3f} s -> x{record_s / copy_s:.1f} the copy "
        f"(content hash {out['hash_s']:.3f} s, nightly stats {out['stats_s']:.3f} s, the rest "
        f"{record_s - out['hash_s'] - out['stats_s']:.3f} s)"
    )
    print(
        f"  get_visits (whole)         {out['read_s']:8.3f} s -> x{out['read_s'] / copy_s:.1f} the copy "
        f"(checksum check {out['checksum_s']:.3f} s, read_visits_h5 {out['read_h5_s']:.3f} s)",
        flush=True,
    )

    if frame["night"].nunique() > 1:
        ordinals = dayobs_ordinals(frame["observationStartMJD"])
        night = dt.date.fromordinal(int(ordinals[n // 2]))
        expected = int((ordinals == night.toordinal()).sum())
        # Each read in a fresh process, alternated, 3 times: the median of each (the machine is
        # shared, and a single pair of runs swung the ratio from 37x to 123x).
        runs: dict[str, list[dict[str, Any]]] = {"night": [], "whole": []}
        for _ in range(NIGHT_READ_REPS):
            for how in runs:
                runs[how].append(child(sys.executable, CHILD_READ, how, str(path), night.isoformat()))
        ours, theirs = (
            min(runs[how], key=lambda r, how=how: abs(r["seconds"] - _median_seconds(runs[how])))
            for how in ("night", "whole")
        )
        assert ours["rows"] == theirs["rows"] == expected, (ours, theirs, expected)
        out["one_night"] = {
            "night": night.isoformat(),
            "rows": expected,
            "vseq": ours,
            "read_then_filter": theirs,
            "runs": runs,
        }
        print(
            f"  one night ({night}, {expected} visits): get_visits(nights=...) {ours['seconds']:.3f} s, "
            f"peak RSS {ours['peak_rss_mb']:.0f} MB; read whole then filter {theirs['seconds']:.3f} s, "
            f"peak RSS {theirs['peak_rss_mb']:.0f} MB -> x{theirs['seconds'] / ours['seconds']:.1f} "
            f"(medians of {NIGHT_READ_REPS}, each in a fresh process; night reads {_times(runs['night'])}, "
            f"whole reads {_times(runs['whole'])}; the baseline here is reading the whole file with "
            "pandas.read_hdf then filtering, not a copy)",
            flush=True,
        )

    readers = {"pandas 3": sys.executable}
    if PANDAS2_PYTHON.exists():
        readers["pandas 2"] = str(PANDAS2_PYTHON)
    out["readable"] = {}
    for label, python in readers.items():
        seen = child(python, CHILD_PANDAS, str(path))
        ok = seen["rows"] == n and seen["columns"] == len(frame.columns)
        ok = (
            ok
            and seen["first"] == float(frame["observationStartMJD"].iloc[0])
            and seen["band"] == frame["band"].iloc[-1]
        )
        out["readable"][label] = dict(seen, ok=ok)
        print(
            f"  read_hdf(key='observations') under pandas {seen['pandas']}: {'ok' if ok else 'WRONG'} "
            f"in {seen['seconds']:.3f} s, peak RSS {seen['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    if "pandas 2" not in readers:
        print("  pandas 2: skipped (no /var/tmp/vseq-pandas2-venv; the visits tests build it)")
    for leftover in (local, uncompressed, copy_target):
        leftover.unlink(missing_ok=True)
    return out


COMPRESSIONS = tuple(
    dict.fromkeys(
        (
            (COMPLIB, COMPLEVEL),
            ("zlib", 5),
            ("zlib", 1),
            ("blosc:lz4", 1),
            ("blosc:lz4", 5),
            ("blosc:zstd", 1),
            (None, 0),
        )
    )
)


def compression_options(frame: pd.DataFrame, workdir: Path, reps: int = 2) -> dict[str, Any]:
    """``write_visits_h5`` and ``read_visits_h5`` (whole) under a few PyTables filters, against a
    plain copy of the file written, and ``pandas.read_hdf`` of it (best of ``reps``)."""
    print(
        f"\n== compression options on {len(frame):,} visits (write_visits_h5 / read_visits_h5 / read_hdf) =="
    )
    out = {}
    saved = visits_module.COMPLIB, visits_module.COMPLEVEL
    try:
        for complib, level in COMPRESSIONS:
            visits_module.COMPLIB, visits_module.COMPLEVEL = complib, level
            path, copy = workdir / "compression.h5", workdir / "compression-copy.h5"
            write_s, _ = seconds(lambda p=path: write_visits_h5(p, frame), reps)
            copy_s, _ = seconds(lambda p=path, c=copy: plain_copy(p, c), reps)
            read_s, _ = seconds(lambda p=path: read_visits_h5(p), reps)
            pandas_s, _ = seconds(lambda p=path: pd.read_hdf(p, key=OBSERVATIONS_KEY), reps)
            size = path.stat().st_size
            label = f"{complib or 'none'} {level}" + (" (vseq's)" if (complib, level) == saved else "")
            out[label] = {
                "write_s": write_s,
                "copy_s": copy_s,
                "read_s": read_s,
                "read_hdf_s": pandas_s,
                "bytes_per_visit": size / len(frame),
            }
            print(
                f"  {label:22s} {size / len(frame):5.0f} B/visit  write {write_s:6.2f} s "
                f"(x{write_s / copy_s:5.1f} the copy, {copy_s:.3f} s)  read {read_s:5.2f} s "
                f"(x{read_s / copy_s:4.1f})  pandas.read_hdf {pandas_s:5.2f} s",
                flush=True,
            )
            path.unlink()
            copy.unlink()
    finally:
        visits_module.COMPLIB, visits_module.COMPLEVEL = saved
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=2_000_000, help="visits of the ten-year survey (about)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions for the one-night sequence")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vseq-bench-visits-", dir="/var/tmp"))
    url = services.postgres_server_url(workdir / "pg")
    schema = services.new_schema_name("bench_visits")
    db = MetadataDatabase.from_url(url, schema, create=True)
    archive = VisitSequenceArchive(db, ArchiveStore((workdir / "store").as_uri() + "/"))
    print(f"store {archive.store.base}, disk {workdir}; schema {schema}")
    print(f"load average at start {os.getloadavg()} on {os.cpu_count()} CPUs", flush=True)
    cpu = time.process_time()
    results: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        one_night = synthetic_observations(ONE_NIGHT, 1, 1000)
        results["one night"] = bench_sequence(archive, "one-night", one_night, workdir, args.reps)
        survey = synthetic_observations(SURVEY_START, 3653, round(args.visits / 3653))
        results["ten years"] = bench_sequence(archive, "ten-years", survey, workdir, 1)
        results["compression"] = compression_options(survey.iloc[: len(survey) // 10], workdir)
    finally:
        db.close()
        services.drop_schema(url, schema)
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\nwall time {time.perf_counter() - started:.0f} s; this process's CPU "
        f"{time.process_time() - cpu:.0f} s; load average at end {os.getloadavg()}; "
        f"peak RSS {peak_rss_mb():.0f} MB"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "peak_rss_mb": peak_rss_mb()}, indent=2, default=str)
        )


if __name__ == "__main__":
    main()
