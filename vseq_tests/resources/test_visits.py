"""visits.h5 files, the reproducible content hash, opsim conversion and nightly statistics."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tables

from vseq_resources.dayobs import dayobs_of_mjd
from vseq_resources.errors import InvalidInputError
from vseq_resources.visits import (
    DEFAULT_STATS_COLUMNS,
    NIGHTLY_STATS_COLUMNS,
    compute_nightly_stats,
    dayobs_ordinals,
    h5_to_opsim,
    opsim_to_h5,
    read_visits_h5,
    visits_content_hash,
    write_visits_h5,
)
from vseq_resources.visits.h5 import COMPLEVEL, COMPLIB
from vseq_tests.venvs import built_venv

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "vseq_tests" / "fixtures"
PANDAS2_VENV = Path("/var/tmp/vseq-pandas2-venv")


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_visits_pandas2", FIXTURES / "make_visits_pandas2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def visits() -> pd.DataFrame:
    """Opsim-like visits over two nights, with pandas' default (pandas 3: str) string columns."""
    return (
        _fixture_module()
        .expected_frames()["observations"]
        .assign(
            band=lambda f: f["band"].astype("str"), scheduler_note=lambda f: f["scheduler_note"].astype("str")
        )
    )


@pytest.fixture
def info() -> pd.DataFrame:
    return _fixture_module().expected_frames()["info"]


def _same_content(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal values; string columns compared as Python objects (None and NaN both missing)."""
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_numeric_dtype(a):
            assert a.dtype == b.dtype, column
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
        else:
            assert [None if pd.isna(v) else v for v in a] == [None if pd.isna(v) else v for v in b], column


# --- visits.h5 --------------------------------------------------------------------------------


def test_round_trip_with_extra_tables(tmp_path: Path, visits: pd.DataFrame, info: pd.DataFrame) -> None:
    path = write_visits_h5(tmp_path / "visits.h5", visits, {"info": info})
    _same_content(read_visits_h5(path), visits)
    _same_content(read_visits_h5(path, key="info"), info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["visits.h5"]


def test_file_is_fixed_format_with_the_chosen_filter(tmp_path: Path, visits: pd.DataFrame) -> None:
    path = write_visits_h5(tmp_path / "visits.h5", visits, {"info": visits.head(1)})
    with pd.HDFStore(path, mode="r") as store:
        assert sorted(store.keys()) == ["/info", "/observations"]
        assert not store.get_storer("observations").is_table
    with tables.open_file(path) as handle:
        leaves = list(handle.walk_nodes("/", "Leaf"))
        assert leaves and all(n.filters.complevel == COMPLEVEL for n in leaves)
        if COMPLEVEL:
            assert all(n.filters.complib == COMPLIB for n in leaves)


@pytest.mark.parametrize("filters", [(COMPLIB, COMPLEVEL), ("zlib", 5), ("blosc:lz4", 1)])
def test_whole_read_is_what_pandas_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filters: tuple, visits: pd.DataFrame
) -> None:
    """read_visits_h5 decodes strings from the night layout instead of unpickling them: the
    frame must be pandas' own, exactly, whatever filter wrote the file (zlib: files written
    before, and production's)."""
    import vseq_resources.visits.h5 as module

    monkeypatch.setattr(module, "COMPLIB", filters[0])
    monkeypatch.setattr(module, "COMPLEVEL", filters[1])
    frames = {
        "fixture": visits,
        "survey": _survey(),
        "odd": pd.DataFrame(
            {
                "observationStartMJD": 61000.5 + np.arange(5) / 10,
                "flag": [True, False, True, True, False],
                "small": np.arange(5, dtype=np.int16),
                "cat": pd.Categorical(["a", "b", None, "a", "é"]),
                "none": pd.Series([None] * 5, dtype=object),
                "empty": ["", "x", None, "x", ""],
            },
            index=pd.Index(list("vwxyz"), dtype="str"),
        ),
    }
    for name, frame in frames.items():
        path = write_visits_h5(tmp_path / f"{name}.h5", frame)
        with tables.open_file(path) as handle:
            assert "vseq_nights" in handle.get_node("/observations"), name
        expected = pd.read_hdf(path, key="observations")
        pd.testing.assert_frame_equal(read_visits_h5(path), expected, check_exact=True, obj=name)
        _same_content(expected, frame)
        night = dayobs_of_mjd(float(frame["observationStartMJD"].iloc[-1]))
        selected = read_visits_h5(path, nights=[night])
        keep = dayobs_ordinals(expected["observationStartMJD"]) == night.toordinal()
        pd.testing.assert_frame_equal(selected, expected.loc[keep], check_exact=True, obj=name)


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")
def test_frames_beyond_numbers_and_strings_round_trip(tmp_path: Path) -> None:
    """Dates, nullable integers and mixed object columns take pandas' own path (no layout for
    mixed objects), and read back as pandas reads them."""
    frame = pd.DataFrame(
        {
            "observationStartMJD": [61000.6, 61000.7, 61001.6],
            "when": pd.to_datetime(["2026-01-01", "2026-01-02", None]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "mixed": pd.Series(["a", 1, None], dtype=object),
            "band": pd.Series(["g", "r", None], dtype="str"),
        }
    )
    for name, table in {
        "dates": frame.drop(columns=["count", "mixed"]),
        "all": frame.drop(columns="count"),
    }.items():
        path = write_visits_h5(tmp_path / f"{name}.h5", table)
        expected = pd.read_hdf(path, key="observations")
        pd.testing.assert_frame_equal(read_visits_h5(path), expected, check_exact=True)
        _same_content(expected, table)
        night = dayobs_of_mjd(61001.6)
        pd.testing.assert_frame_equal(
            read_visits_h5(path, nights=[night]), expected.iloc[2:], check_exact=True
        )


def test_string_columns_are_written_as_objects(tmp_path: Path, visits: pd.DataFrame) -> None:
    """pandas 3's string dtype is not what goes to disk: object arrays of str, as pandas 2 writes,
    in which equal strings are one object (pickled once, then by reference)."""
    path = write_visits_h5(tmp_path / "visits.h5", visits)
    with tables.open_file(path) as handle:
        blocks = [n.read()[0] for n in handle.walk_nodes("/observations", "VLArray")]
    assert blocks and all(b.dtype == object for b in blocks)
    assert {type(v) for b in blocks for v in b.ravel()} == {str, type(None)}
    values = [v for b in blocks for v in b.ravel() if v is not None]
    assert len({id(v) for v in values}) == len(set(values)) < len(values)


def test_empty_night_round_trips(tmp_path: Path, visits: pd.DataFrame) -> None:
    empty = visits.iloc[:0]
    path = write_visits_h5(tmp_path / "visits.h5", empty)
    back = read_visits_h5(path)
    assert list(back.columns) == list(visits.columns) and len(back) == 0
    assert back["observationStartMJD"].dtype == np.float64 and back["observationId"].dtype == np.int64
    assert visits_content_hash(back) == visits_content_hash(empty)


@pytest.mark.parametrize(
    ("mjd", "message"),
    [
        ([61000.1, np.nan], "missing or out-of-range"),
        ([61000.1, np.inf], "missing or out-of-range"),
        ([2461000.1], "missing or out-of-range"),
        ([1000.0], "missing or out-of-range"),
        (["61000.1"], "must be numeric"),
    ],
)
def test_bad_mjds_are_refused(tmp_path: Path, mjd: list, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        write_visits_h5(tmp_path / "visits.h5", pd.DataFrame({"observationStartMJD": mjd}))
    assert list(tmp_path.iterdir()) == []


def test_bad_frames_and_keys_are_refused(tmp_path: Path, visits: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="no observationStartMJD"):
        write_visits_h5(tmp_path / "v.h5", pd.DataFrame({"mjd": [61000.1]}))
    with pytest.raises(InvalidInputError, match="must be a DataFrame"):
        write_visits_h5(tmp_path / "v.h5", visits.to_dict())
    for key in ("observations", "bad key", "1info", ""):
        with pytest.raises(InvalidInputError, match="invalid table name"):
            write_visits_h5(tmp_path / "v.h5", visits, {key: visits})
    with pytest.raises(InvalidInputError, match="not a DataFrame"):
        write_visits_h5(tmp_path / "v.h5", visits, {"info": [1, 2]})
    assert list(tmp_path.iterdir()) == []


def test_read_selects_nights(tmp_path: Path, visits: pd.DataFrame) -> None:
    path = write_visits_h5(tmp_path / "visits.h5", visits)
    nights = sorted({dayobs_of_mjd(m) for m in visits["observationStartMJD"]})
    assert len(nights) == 2
    first = read_visits_h5(path, nights=[nights[0]])
    assert len(first) == 12 and {dayobs_of_mjd(m) for m in first["observationStartMJD"]} == {nights[0]}
    both = read_visits_h5(path, nights=[nights[0].isoformat(), nights[1].strftime("%Y%m%d")])
    assert len(both) == len(visits)
    assert read_visits_h5(path, nights=["2020-01-01"]).empty
    with pytest.raises(InvalidInputError, match="invalid dayobs"):
        read_visits_h5(path, nights=["yesterday"])


def test_vectorised_dayobs_agrees_with_dayobs_of_mjd() -> None:
    rng = np.random.default_rng(3)
    noon = 61000.5
    mjd = np.concatenate(
        [rng.uniform(60000, 62000, 20000), noon + np.array([-1e-6, -1e-9, 0.0, 1e-9, 1e-6, -0.5, 0.5])]
    )
    expected = [dayobs_of_mjd(m).toordinal() for m in mjd]
    assert dayobs_ordinals(mjd).tolist() == expected
    assert dt.date.fromordinal(int(dayobs_ordinals([noon])[0])) == dayobs_of_mjd(noon)


def test_unreadable_files(tmp_path: Path, visits: pd.DataFrame) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all")
    with pytest.raises(InvalidInputError, match="not a readable visits.h5"):
        read_visits_h5(text)

    good = write_visits_h5(tmp_path / "visits.h5", visits)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidInputError):
        read_visits_h5(truncated)

    with pytest.raises(InvalidInputError, match="has no 'rewards' table"):
        read_visits_h5(good, key="rewards")
    other = tmp_path / "other.h5"
    visits.to_hdf(other, key="reward_df")
    with pytest.raises(InvalidInputError, match="has no 'observations' table"):
        read_visits_h5(other)
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_visits_h5(tmp_path / "absent.h5")


# --- content hash -----------------------------------------------------------------------------


def test_hash_ignores_string_dtype_and_index_but_not_content(visits: pd.DataFrame) -> None:
    digest = visits_content_hash(visits)
    assert len(digest) == 32
    as_objects = visits.astype({"band": object, "scheduler_note": object})
    assert visits_content_hash(as_objects) == digest
    assert visits_content_hash(visits.set_axis(range(100, 100 + len(visits)))) == digest
    assert visits_content_hash(visits.assign(band=visits["band"].astype("category"))) == digest

    changed = visits.copy()
    changed.loc[3, "altitude"] += 1e-9
    assert visits_content_hash(changed) != digest
    assert visits_content_hash(visits.iloc[::-1]) != digest
    assert visits_content_hash(visits.rename(columns={"band": "filter"})) != digest
    assert visits_content_hash(visits.astype({"observationId": "float64"})) != digest
    assert visits_content_hash(visits.assign(target_name="")) != digest  # "" is not missing


def test_hash_canonicalizes_missing_values() -> None:
    a = pd.DataFrame({"x": [1.0, np.nan, 0.0], "s": ["a", None, "b"]})
    b = pd.DataFrame({"x": [1.0, -np.nan, -0.0], "s": pd.array(["a", pd.NA, "b"], dtype="string")})
    assert visits_content_hash(a) == visits_content_hash(b)
    ints = pd.DataFrame({"x": pd.array([1, None, 0], dtype="Int64"), "s": ["a", np.nan, "b"]})
    assert visits_content_hash(ints) == visits_content_hash(a)


def test_hash_follows_its_documented_canonical_form() -> None:
    """The canonical form is a compatibility promise: a change here needs a new version tag."""
    frame = pd.DataFrame(
        {
            "mjd": [61000.25, np.nan],
            "id": [1, 2],
            "band": ["g", None],
            "flag": [True, False],
            "t": pd.to_datetime(["1970-01-01T00:00:01Z", None]),
        }
    )

    def name(text: str) -> bytes:
        return struct.pack("<I", len(text.encode())) + text.encode()

    canonical = b"".join(
        [
            b"vseq-visits-v1\n",
            struct.pack("<QQ", 2, 5),
            name("mjd") + b"f" + struct.pack("<d", 61000.25) + bytes.fromhex("000000000000f87f"),
            name("id") + b"i" + struct.pack("<qq", 1, 2),
            name("band") + b"s" + b"\x01" + name("g") + b"\x00",
            name("flag") + b"b" + b"\x01\x00",
            name("t") + b"t" + struct.pack("<qq", 1_000_000_000, -(2**63)),
        ]
    )
    assert visits_content_hash(frame) == hashlib.sha256(canonical).digest()
    assert (
        visits_content_hash(frame).hex() == "e09010d6c303dca8006d5126f44bf4688a941c28ef2986f28c85ff6ac4c6a621"
    )


def test_hash_rejects_values_without_a_canonical_form() -> None:
    with pytest.raises(InvalidInputError, match="column 'blob'"):
        visits_content_hash(pd.DataFrame({"blob": [b"bytes"]}))


def test_hash_is_the_same_in_another_process(tmp_path: Path, visits: pd.DataFrame) -> None:
    path = write_visits_h5(tmp_path / "visits.h5", visits)
    code = (
        "import sys; from vseq_resources.visits import read_visits_h5, visits_content_hash;"
        "print(visits_content_hash(read_visits_h5(sys.argv[1])).hex())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code, str(path)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout.strip()
        for seed in ("1", "271828")
    }
    assert digests == {visits_content_hash(visits).hex()}


# --- pandas 2 compatibility -------------------------------------------------------------------


@pytest.fixture(scope="session")
def pandas2_python() -> Path:
    """A Python with pandas 2.x, numpy 1.x and PyTables (built once with uv, then reused)."""
    probe = "import pandas, tables; assert pandas.__version__.startswith('2.')"
    return built_venv(PANDAS2_VENV, ["pandas>=2.2,<3", "numpy<2", "tables"], probe)


PANDAS2_READER = """
import json, sys
import pandas as pd
sys.path.insert(0, sys.argv[2])
from vseq_resources.visits import visits_content_hash
out = {"pandas": pd.__version__}
for key in ("observations", "info"):
    frame = pd.read_hdf(sys.argv[1], key=key)
    out[key] = {
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "values": json.loads(frame.to_json(orient="split", index=False, double_precision=15))["data"],
        "types": {c: sorted({type(v).__name__ for v in frame[c]}) for c in frame.columns},
    }
out["hash"] = visits_content_hash(pd.read_hdf(sys.argv[1], key="observations")).hex()
print(json.dumps(out))
"""


def test_pandas2_reads_our_files(
    tmp_path: Path, pandas2_python: Path, visits: pd.DataFrame, info: pd.DataFrame
) -> None:
    path = write_visits_h5(tmp_path / "visits.h5", visits, {"info": info})
    result = subprocess.run(
        [pandas2_python, "-c", PANDAS2_READER, str(path), str(REPO)],
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(result.stdout)
    assert seen["pandas"].startswith("2.")
    observations = seen["observations"]
    assert observations["dtypes"]["band"] == "object" and observations["dtypes"]["observationId"] == "int64"
    assert observations["types"]["band"] == ["str"]
    assert observations["types"]["target_name"] == ["NoneType", "str"]
    expected = json.loads(visits.to_json(orient="split", index=False, double_precision=15))["data"]
    assert observations["values"] == expected
    assert seen["info"]["values"] == info.to_numpy().tolist()
    assert seen["hash"] == visits_content_hash(visits).hex()


def test_we_read_a_pandas2_file(visits: pd.DataFrame, info: pd.DataFrame) -> None:
    fixture = FIXTURES / "visits_pandas2.h5"
    assert fixture.stat().st_size < 200_000
    back = read_visits_h5(fixture)
    _same_content(back, visits)
    assert visits_content_hash(back) == visits_content_hash(visits)
    _same_content(read_visits_h5(fixture, key="info"), info)
    assert len(read_visits_h5(fixture, nights=[dayobs_of_mjd(61001.2)])) == 12


# --- opsim sqlite <-> h5 ----------------------------------------------------------------------


def _opsim_db(path: Path, visits: pd.DataFrame, info: pd.DataFrame) -> Path:
    with sqlite3.connect(path) as conn:
        visits.to_sql("observations", conn, index=False)
        info.to_sql("info", conn, index=False)
    conn.close()
    return path


def test_opsim_round_trip(tmp_path: Path, visits: pd.DataFrame, info: pd.DataFrame) -> None:
    db = _opsim_db(tmp_path / "opsim.db", visits, info)
    h5 = opsim_to_h5(db, tmp_path / "visits.h5")
    _same_content(read_visits_h5(h5), visits)
    _same_content(read_visits_h5(h5, key="info"), info)

    back = h5_to_opsim(h5, tmp_path / "back.db")
    with sqlite3.connect(back) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert sorted(names) == ["info", "observations"]
        _same_content(pd.read_sql_query("SELECT * FROM observations", conn), visits)
        _same_content(pd.read_sql_query("SELECT * FROM info", conn), info)
    conn.close()
    with pytest.raises(InvalidInputError, match="already exists"):
        h5_to_opsim(h5, back)
    h5_to_opsim(h5, back, overwrite=True)


def test_opsim_conversion_errors(tmp_path: Path, visits: pd.DataFrame, info: pd.DataFrame) -> None:
    no_observations = tmp_path / "info_only.db"
    with sqlite3.connect(no_observations) as conn:
        info.to_sql("info", conn, index=False)
    conn.close()
    with pytest.raises(InvalidInputError, match="no observations table"):
        opsim_to_h5(no_observations, tmp_path / "visits.h5")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00" * 4096)
    with pytest.raises(InvalidInputError, match="not a readable opsim sqlite"):
        opsim_to_h5(garbage, tmp_path / "visits.h5")
    with pytest.raises(InvalidInputError):
        h5_to_opsim(garbage, tmp_path / "out.db")
    assert not (tmp_path / "visits.h5").exists() and not (tmp_path / "out.db").exists()


# --- nightly statistics -----------------------------------------------------------------------


def test_default_columns_match_the_reference() -> None:
    assert DEFAULT_STATS_COLUMNS == ("altitude", "azimuth")


def test_nightly_stats_match_pandas_describe(visits: pd.DataFrame) -> None:
    visits = visits.copy()
    visits.loc[5, "altitude"] = np.nan
    stats = compute_nightly_stats(visits)
    assert tuple(stats.columns) == NIGHTLY_STATS_COLUMNS
    nights = [dayobs_of_mjd(m) for m in visits["observationStartMJD"]]
    assert len(stats) == 2 * 2 * 2  # nights x columns x accumulated
    assert stats["count"].dtype == np.int64
    names = {"5%": "p05", "25%": "q1", "50%": "median", "75%": "q3", "95%": "p95"}
    for row in stats.itertuples(index=False):
        mask = [n == row.day_obs if not row.accumulated else n <= row.day_obs for n in nights]
        described = visits.loc[mask, row.value_name].describe(percentiles=[0.05, 0.25, 0.5, 0.75, 0.95])
        assert row.count == described["count"]
        for source, target in {**names, "mean": "mean", "std": "std", "min": "min", "max": "max"}.items():
            assert getattr(row, target) == pytest.approx(described[source], rel=1e-12), (row, target)
    first = stats[(stats.value_name == "altitude") & ~stats.accumulated].iloc[0]
    assert first["count"] == 11


def test_nightly_stats_selected_nights_and_columns(visits: pd.DataFrame) -> None:
    second = dayobs_of_mjd(61001.2)
    stats = compute_nightly_stats(visits, columns=["fieldRA", "no_such_column"], day_obs=second)
    assert set(stats["value_name"]) == {"fieldRA"}
    assert list(stats["day_obs"]) == [second, second]
    assert dict(zip(stats["accumulated"], stats["count"], strict=True)) == {False: 12, True: 24}

    empty_night = second + dt.timedelta(days=5)
    stats = compute_nightly_stats(visits, day_obs=[empty_night])
    tonight = stats[~stats.accumulated]
    assert (tonight["count"] == 0).all() and tonight["mean"].isna().all()
    assert (stats[stats.accumulated]["count"] == 24).all()

    with pytest.raises(InvalidInputError, match="non-numeric column 'band'"):
        compute_nightly_stats(visits, columns=["band"])
    assert compute_nightly_stats(visits.iloc[:0]).empty


def test_nightly_stats_from_consdb_day_obs() -> None:
    consdb = pd.DataFrame({"day_obs": [20251120, 20251120, 20251121], "altitude": [40.0, 60.0, 80.0]})
    stats = compute_nightly_stats(consdb, columns=["altitude"])
    assert list(stats["day_obs"]) == [dt.date(2025, 11, 20)] * 2 + [dt.date(2025, 11, 21)] * 2
    assert list(stats["mean"]) == [50.0, 50.0, 80.0, 60.0]


# --- nights out of long surveys (night layout, nightly statistics at scale) ---------------------


def _survey(nights: int = 40, seed: int = 3) -> pd.DataFrame:
    """Visits on many nights, some nights empty, strings with None, a non-default index."""
    rng = np.random.default_rng(seed)
    night = np.sort(rng.integers(0, nights, 600))
    mjd = 61000.5 + night + np.sort(rng.uniform(0.02, 0.37, 600))
    return pd.DataFrame(
        {
            "observationId": np.arange(600),
            "observationStartMJD": np.sort(mjd),
            "altitude": np.where(rng.uniform(size=600) < 0.05, np.nan, rng.uniform(20, 90, 600)),
            "band": pd.Series(rng.choice(list("ugrizy"), 600), dtype="str"),
            "target_name": [None if i % 9 == 0 else f"field {i % 13}" for i in range(600)],
            "note": ["é ünïcode" if i % 5 else "" for i in range(600)],
        },
        index=np.arange(600) + 10_000,
    )


@pytest.mark.parametrize("shuffled", [False, True])
def test_nights_read_through_the_layout_match_the_whole_file(tmp_path: Path, shuffled: bool) -> None:
    survey = _survey()
    if shuffled:  # runs of nights instead of one block per night
        survey = survey.sample(frac=1, random_state=1)
    path = write_visits_h5(tmp_path / "visits.h5", survey, {"info": survey.head(2)})
    with tables.open_file(path) as handle:
        assert "vseq_nights" in handle.get_node("/observations")
    whole = read_visits_h5(path)
    pd.testing.assert_frame_equal(whole, pd.read_hdf(path, key="observations"), check_exact=True)
    ordinals = dayobs_ordinals(whole["observationStartMJD"])
    present = sorted(set(ordinals.tolist()))
    for chosen in ([present[0]], present[5:9], [present[-1], present[2]], [1], present):
        nights = [dt.date.fromordinal(o) for o in chosen]
        selected = read_visits_h5(path, nights=nights)
        pd.testing.assert_frame_equal(selected, whole.loc[np.isin(ordinals, chosen)])
        assert not selected.attrs


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")
def test_nights_of_a_file_without_layout_are_still_found(tmp_path: Path) -> None:
    """A file whose observations were rewritten by plain pandas: read whole, then filtered."""
    survey = _survey()
    path = write_visits_h5(tmp_path / "visits.h5", survey)
    plain = survey.astype({"band": object})
    plain.to_hdf(path, key="observations", mode="a", format="fixed")  # pandas replaces the group
    with tables.open_file(path) as handle:
        assert "vseq_nights" not in handle.get_node("/observations")
    night = dayobs_of_mjd(float(survey["observationStartMJD"].iloc[300]))
    selected = read_visits_h5(path, nights=[night])
    expected = survey[dayobs_ordinals(survey["observationStartMJD"]) == night.toordinal()]
    _same_content(selected, expected)


def test_nightly_stats_over_many_nights_match_pandas_describe() -> None:
    survey = _survey(nights=60).sample(frac=1, random_state=2)
    stats = compute_nightly_stats(survey, columns=["altitude"])
    nights = np.array([dayobs_of_mjd(m) for m in survey["observationStartMJD"]])
    names = {"5%": "p05", "25%": "q1", "50%": "median", "75%": "q3", "95%": "p95"}
    assert len(stats) == 2 * len(set(nights))
    for row in stats.itertuples(index=False):
        mask = nights <= row.day_obs if row.accumulated else nights == row.day_obs
        described = survey.loc[mask, "altitude"].describe(percentiles=[0.05, 0.25, 0.5, 0.75, 0.95])
        assert row.count == described["count"]
        for source, target in {**names, "mean": "mean", "std": "std", "min": "min", "max": "max"}.items():
            assert getattr(row, target) == pytest.approx(described[source], rel=1e-12, nan_ok=True)


# --- edge cases of the write and read paths ----------------------------------------------------


def _three_nights(n: int = 12) -> np.ndarray:
    """MJDs of visits on three nights, interleaved (each night is several runs of the layout)."""
    return 61000.6 + (np.arange(n) % 3) + np.arange(n) * 0.001


def test_nights_keep_time_zone_aware_datetimes(tmp_path: Path) -> None:
    """Blocks the layout does not decode (tz-aware datetimes) are read by row range: the nights
    must come back with pandas' dtype, not as object columns of Timestamps."""
    n = 12
    frame = pd.DataFrame(
        {
            "observationStartMJD": _three_nights(n),
            "start": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
            "end": pd.date_range("2026-01-02", periods=n, freq="h", tz="UTC"),  # same block as start
            "local": pd.date_range("2026-01-01", periods=n, freq="h", tz="America/Santiago"),
            "band": list("ugrizyugrizy"),
        }
    )
    path = write_visits_h5(tmp_path / "visits.h5", frame)
    expected = pd.read_hdf(path, key="observations")
    assert expected["start"].dtype == frame["start"].dtype
    pd.testing.assert_frame_equal(read_visits_h5(path), expected, check_exact=True)
    ordinals = dayobs_ordinals(expected["observationStartMJD"])
    for chosen in ([ordinals[0]], [ordinals[1], ordinals[2]]):
        selected = read_visits_h5(path, nights=[dt.date.fromordinal(int(o)) for o in chosen])
        pd.testing.assert_frame_equal(selected, expected.loc[np.isin(ordinals, chosen)], check_exact=True)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pd.array([1, None, 3], dtype="Int64"), "dtype Int64"),
        (pd.array([True, None, False], dtype="boolean"), "dtype boolean"),
        (pd.array([1.5, None, 3.0], dtype="Float64"), "dtype Float64"),
        (pd.Series([1, None, 3], dtype="int64[pyarrow]"), "dtype int64\\[pyarrow\\]"),
        (pd.arrays.SparseArray([0, 1, 0]), "dtype Sparse"),
        (pd.period_range("2026-01", periods=3, freq="M"), "dtype period"),
        (pd.interval_range(0, 3), "dtype interval"),
    ],
)
def test_columns_the_fixed_format_cannot_store_are_refused(
    tmp_path: Path, column: object, message: str
) -> None:
    """pandas' fixed format (with a filter) fails on these with AttributeError from PyTables, or
    stores periods as integers that pandas 2 reads back as int64: refused, by name."""
    frame = pd.DataFrame({"observationStartMJD": [61000.6, 61000.7, 61000.8], "odd": column})
    with pytest.raises(InvalidInputError, match=f"column 'odd' of table 'observations' has {message}"):
        write_visits_h5(tmp_path / "visits.h5", frame)
    ok = frame.drop(columns="odd")
    with pytest.raises(InvalidInputError, match=f"column 'odd' of table 'info' has {message}"):
        write_visits_h5(tmp_path / "visits.h5", ok, {"info": frame})
    if isinstance(column, pd.IntervalIndex | pd.arrays.IntegerArray):  # as an index: pandas refuses
        with pytest.raises(
            InvalidInputError, match="table 'observations' cannot be stored.*Index with dtype"
        ):
            write_visits_h5(tmp_path / "visits.h5", ok.set_axis(pd.Index(column)))
    assert list(tmp_path.iterdir()) == []


def test_column_names_that_cannot_be_stored_are_refused(tmp_path: Path) -> None:
    """Names are stored as strings: names that are equal as strings, and multi-level names
    (flattened, the MJD column would be lost), are refused before anything is written."""
    mjd = [61000.6, 61000.7]
    same = pd.DataFrame([[mjd[0], 1, 2], [mjd[1], 3, 4]], columns=["observationStartMJD", 1, "1"])
    duplicated = pd.DataFrame([[mjd[0], 1, 2], [mjd[1], 3, 4]], columns=["observationStartMJD", "a", "a"])
    multi = pd.DataFrame(
        {("observationStartMJD", ""): mjd, ("band", "name"): ["g", "r"]},
    )
    for frame, message in ((same, "'1'"), (duplicated, "'a'")):
        with pytest.raises(InvalidInputError, match=f"duplicate column name {message}"):
            write_visits_h5(tmp_path / "visits.h5", frame)
        with pytest.raises(InvalidInputError, match=f"duplicate column name {message} in table 'info'"):
            write_visits_h5(
                tmp_path / "visits.h5", pd.DataFrame({"observationStartMJD": mjd}), {"info": frame}
            )
    with pytest.raises(InvalidInputError, match="multi-level column names"):
        write_visits_h5(tmp_path / "visits.h5", multi)
    assert list(tmp_path.iterdir()) == []
    # Names that are not strings but stay distinct are stored as strings, as before.
    path = write_visits_h5(tmp_path / "visits.h5", same.set_axis(["observationStartMJD", 1, 2.5], axis=1))
    assert list(read_visits_h5(path).columns) == ["observationStartMJD", "1", "2.5"]


def test_strings_pandas_3_cannot_read_are_refused(tmp_path: Path) -> None:
    """A lone surrogate pickles fine, but pandas 3's read_hdf (and UTF-8) cannot encode it: the
    file would be unreadable by consumers, and the hash has no canonical bytes for it."""
    frame = pd.DataFrame(
        {"observationStartMJD": [61000.6, 61000.7], "note": pd.Series(["ok", "bad \udc80"], dtype=object)}
    )
    with pytest.raises(InvalidInputError, match="column 'note' of table 'observations'.*UTF-8"):
        write_visits_h5(tmp_path / "visits.h5", frame)
    with pytest.raises(InvalidInputError, match="column 'note' of table 'info'.*UTF-8"):
        write_visits_h5(tmp_path / "visits.h5", frame.drop(columns="note"), {"info": frame})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInputError, match="column 'note'.*UTF-8"):
        visits_content_hash(frame)


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")
@pytest.mark.parametrize("fmt", ["fixed", "table"])
def test_observations_rewritten_by_pandas_are_not_read_through_a_stale_layout(
    tmp_path: Path, fmt: str
) -> None:
    """Same number of rows, other strings and numbers: whatever pandas wrote last is read."""
    before = pd.DataFrame(
        {"observationStartMJD": _three_nights(6), "band": list("ugrizy"), "n": np.arange(6)}
    )
    after = before.assign(band=list("yzirgu"), n=np.arange(6) + 100)
    path = write_visits_h5(tmp_path / "visits.h5", before, {"info": before.head(1)})
    after.to_hdf(path, key="observations", mode="a", format=fmt)
    expected = pd.read_hdf(path, key="observations")
    _same_content(expected, after)
    pd.testing.assert_frame_equal(read_visits_h5(path), expected, check_exact=True)
    night = int(dayobs_ordinals(expected["observationStartMJD"])[0])
    selected = read_visits_h5(path, nights=[dt.date.fromordinal(night)])
    keep = dayobs_ordinals(expected["observationStartMJD"]) == night
    pd.testing.assert_frame_equal(selected, expected.loc[keep], check_exact=True)
    _same_content(read_visits_h5(path, key="info"), before.head(1))


PANDAS2_LAYOUT_READER = """
import json, sys
import numpy as np
import pandas as pd
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from vseq_resources.visits import dayobs_ordinals
from vseq_resources.visits.h5 import _read_local
ours = pd.read_hdf(sys.argv[1], key="observations")
plain = pd.read_hdf(sys.argv[2], key="observations")
pd.testing.assert_frame_equal(ours, plain, check_exact=True)
pd.testing.assert_frame_equal(_read_local(Path(sys.argv[1]), "observations"), ours, check_exact=True)
ordinals = dayobs_ordinals(ours["observationStartMJD"])
for chosen in ([ordinals[0]], [ordinals[1], ordinals[2]]):
    selected = _read_local(Path(sys.argv[1]), "observations", np.array(chosen))
    assert selected.attrs.pop("vseq_nights_selected")
    pd.testing.assert_frame_equal(selected, ours.loc[np.isin(ordinals, chosen)], check_exact=True)
print(json.dumps({"pandas": pd.__version__, "dtypes": {c: str(t) for c, t in ours.dtypes.items()}}))
"""


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")
def test_pandas2_reads_a_tricky_frame_as_pandas_wrote_it(tmp_path: Path, pandas2_python: Path) -> None:
    """Under pandas 2: our file reads back exactly as a file pandas itself wrote from the same
    frame (object strings), and vseq's own reader (whole and by night) returns that frame."""
    n = 12
    frame = pd.DataFrame(
        {
            "note": pd.Series(["a", None, "é", "日本", None, "1", "nan", "", "a", "x" * 10_000, "b", "c"]),
            "observationStartMJD": _three_nights(n),
            "missing": pd.Series([None] * n, dtype=object),
            "f32": np.arange(n, dtype="float32") / 3,
            "flag": np.arange(n) % 2 == 0,
            "i8": np.arange(n, dtype="int8"),
            "when": pd.date_range("2026-01-01", periods=n, freq="h"),
            "utc": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
            "cat": pd.Categorical(list("xyzxyzxyzxyz")),
        },
        index=pd.Index([f"v{i}" for i in (3, 1, 2, 0, 5, 4, 7, 6, 9, 8, 11, 10)], dtype="str"),
    )
    ours = write_visits_h5(tmp_path / "visits.h5", frame)
    plain = frame.astype({c: object for c in ("note", "cat")}).set_axis(frame.index.astype(object))
    plain["cat"] = plain["cat"].astype(object)
    plain.to_hdf(tmp_path / "plain.h5", key="observations", format="fixed")
    result = subprocess.run(
        [pandas2_python, "-c", PANDAS2_LAYOUT_READER, str(ours), str(tmp_path / "plain.h5"), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert seen["pandas"].startswith("2.")
    assert seen["dtypes"]["note"] == seen["dtypes"]["missing"] == seen["dtypes"]["cat"] == "object"
    assert seen["dtypes"]["utc"] == "datetime64[ns, UTC]" and seen["dtypes"]["f32"] == "float32"
