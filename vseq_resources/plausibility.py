"""Is a night of visits plausible as the LSST baseline survey would observe it? Numbers in, verdicts out.

A pre-night simulation drives the briefing and obsloctap's published plan, and a completed night
is what the survey did; a scheduler scientist expects either to look like the baseline survey.
:func:`assess_night` measures one night of an opsim-schema visits frame (simulated or completed:
``observationStartMJD``, ``fieldRA``, ``fieldDec``, ``band``, and where present ``airmass``,
``slewTime``, ``visitTime``, ``moonAlt``, ``moonPhase``, ``sunAlt``, ``scheduler_note``,
``observation_reason``, ``target_name``) and compares each number with its telescope's range:
for Simonyi, ranges taken from published baseline statistics (``docs/plausibility.md`` lists the
sources), below; for AuxTel, which has no published baseline, :data:`AUXTEL_THRESHOLDS`, derived
from vseq's simulated AuxTel nights and reported as such with every finding.

==========================  ==========================================================  ===============
rule                        measured                                                    plausible
==========================  ==========================================================  ===============
``visits_per_dark_hour``    visits started with the Sun below -18 deg, per hour of       70 .. 115
                            such time after the observing start
``same_pointing_run``       longest run of consecutive visits within 0.5 deg of each     <= 3
                            other, deep-drilling visits left out
``band_changes``            band changes in time order                                  2 .. 18 (night
                                                                                        >= 4 h observed)
``median_airmass``          median airmass                                              1.0 .. 1.35
``median_slew``             median slew time (s)                                        2 .. 10
``night_used``              fraction of 10-minute slots of the night (Sun below -12      >= 0.85
                            deg, after the observing start) in which a visit started
``band_mix_moon``           u+g share of dark-sky visits; u share and z+y share of       see below
                            bright-sky visits
==========================  ==========================================================  ===============

``band_mix_moon``: visits taken with the Sun below -18 deg are *dark-sky* when the Moon is down or
less than 40 % illuminated (``moonPhase``), *bright-sky* when it is up and more than 60 %
illuminated. With at least :data:`MIN_VISITS_FOR_MIX` visits of a kind: dark-sky visits need a
u+g share of at least 0.10, bright-sky visits a u share of at most 0.02 and a z+y share of at
least 0.30.

A rule whose inputs are missing or too few (no dark time observed, a short night for the band
changes, no bright-sky visits) is *not applicable*: it neither passes nor fails, and says why.

The night's twilights come from a low-precision solar position (:mod:`.ephemeris`, the
Astronomical Almanac's formula, good to 0.01 deg), so the measure needs no almanac files and no
network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .dayobs import dayobs_mjd_start, dayobs_of_mjd, parse_dayobs
from .ephemeris import sun_altitude_deg
from .errors import InvalidInputError

NIGHT_SUN_ALT_DEG = -12.0
DARK_SUN_ALT_DEG = -18.0
SLOT_MINUTES = 10.0
SAME_POINTING_DEG = 0.5
DEEP_DRILLING_MARK = "DD"
MIN_VISITS_FOR_MIX = 30
DARK_MOON_PHASE = 40.0
BRIGHT_MOON_PHASE = 60.0
BAND_CHANGE_MIN_HOURS = 4.0

THRESHOLDS: dict[str, dict[str, float]] = {
    "visits_per_dark_hour": {"min": 70.0, "max": 115.0},
    "same_pointing_run": {"max": 3},
    "band_changes": {"min": 2, "max": 18},
    "median_airmass": {"min": 1.0, "max": 1.35},
    "median_slew": {"min": 2.0, "max": 10.0},
    "night_used": {"min": 0.85},
    "dark_blue_share": {"min": 0.10},
    "bright_u_share": {"max": 0.02},
    "bright_red_share": {"min": 0.30},
}
"""Simonyi's plausible ranges: the LSST baseline survey's (see the module docstring and
``docs/plausibility.md`` for their sources)."""

AUXTEL_THRESHOLDS: dict[str, dict[str, float]] = {
    **THRESHOLDS,
    "visits_per_dark_hour": {"min": 17.0, "max": 46.0},
    "median_airmass": {"min": 1.0, "max": 1.7},
    "night_used": {"min": 0.2},
}
"""AuxTel's plausible ranges: Simonyi's except these three. No published baseline exists for
AuxTel's programme, so these three are **derived from vseq's own simulated AuxTel nights** (the
default survey with AuxTel's slew model over the first
:data:`~vseq_resources.consdb.demo.AUXTEL_HOURS` hours of the night, as vseq simulates AuxTel
pre-nights and demo nights) with a margin around what those nights do; every
finding says so (:data:`THRESHOLD_BASIS`). They tell whether a night looks like vseq's
simulated AuxTel nights, not whether it is a good LATISS night: ``docs/plausibility.md``."""

TELESCOPE_THRESHOLDS: dict[str, dict[str, dict[str, float]]] = {
    "simonyi": THRESHOLDS,
    "auxtel": AUXTEL_THRESHOLDS,
}
THRESHOLD_BASIS: dict[str, str] = {
    "simonyi": "LSST baseline survey (published statistics)",
    "auxtel": "vseq's simulated AuxTel nights (no published baseline exists)",
}
"""What each telescope's ranges come from, reported with every judged night."""

REQUIRED_COLUMNS = ("observationStartMJD", "fieldRA", "fieldDec", "band")


@dataclass(frozen=True)
class Finding:
    """One rule applied to one night: its value, the range it must lie in and the verdict.

    ``passed`` is None when the rule does not apply (``note`` says why).
    """

    rule: str
    value: float | None
    expected: str
    passed: bool | None
    note: str = ""


@dataclass
class NightPlausibility:
    """The numbers of one night and every rule's finding."""

    day_obs: dt.date
    n_visits: int
    numbers: dict[str, float | None]
    findings: list[Finding] = field(default_factory=list)
    telescope: str = "simonyi"

    @property
    def thresholds(self) -> dict[str, dict[str, float]]:
        """The ranges the night was judged against (its telescope's)."""
        return thresholds_for(self.telescope)

    @property
    def passed(self) -> bool:
        """True unless a rule failed (rules that do not apply do not count)."""
        return all(f.passed is not False for f in self.findings)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.passed is False]

    def finding(self, rule: str) -> Finding:
        for found in self.findings:
            if found.rule == rule:
                return found
        raise KeyError(rule)

    def summary(self) -> str:
        """One line: what failed (with values), or that the night is plausible."""
        if not self.failed:
            return f"{self.day_obs}: plausible ({self.n_visits} visits)"
        parts = [f"{f.rule} {_fmt(f.value)} (expected {f.expected})" for f in self.failed]
        return f"{self.day_obs}: " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe numbers and findings (for check metadata)."""
        return {
            "day_obs": self.day_obs.isoformat(),
            "telescope": self.telescope,
            "basis": THRESHOLD_BASIS[self.telescope],
            "n_visits": self.n_visits,
            "numbers": {k: (None if v is None else round(float(v), 4)) for k, v in self.numbers.items()},
            "findings": [asdict(f) for f in self.findings],
            "passed": self.passed,
        }


def thresholds_for(telescope: str) -> dict[str, dict[str, float]]:
    """A telescope's plausible ranges (:data:`TELESCOPE_THRESHOLDS`)."""
    try:
        return TELESCOPE_THRESHOLDS[telescope]
    except KeyError:
        raise InvalidInputError(
            f"no plausibility ranges for telescope {telescope!r}: use one of {sorted(TELESCOPE_THRESHOLDS)}"
        ) from None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _slot_grid(day_obs: dt.date) -> np.ndarray:
    """Start MJDs of the dayobs's 10-minute slots (12:00 UTC to 12:00 UTC)."""
    start = dayobs_mjd_start(day_obs)
    return start + np.arange(0.0, 1440.0, SLOT_MINUTES) / 1440.0


# -- measuring -----------------------------------------------------------------------------------


def _separation_deg(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    ra1, dec1, ra2, dec2 = (np.radians(x) for x in (ra1, dec1, ra2, dec2))
    # Haversine: accurate for the small separations that matter here.
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def _deep_drilling(visits: pd.DataFrame) -> np.ndarray:
    marked = np.zeros(len(visits), dtype=bool)
    for column in ("scheduler_note", "observation_reason", "target_name"):
        if column in visits.columns:
            marked |= visits[column].fillna("").astype(str).str.contains(DEEP_DRILLING_MARK).to_numpy()
    return marked


def longest_same_pointing_run(visits: pd.DataFrame) -> int:
    """Longest run of consecutive (time-ordered) visits within 0.5 deg of the previous one.

    Deep-drilling visits (``DD`` in the scheduler note, observation reason or target name) are
    left out first: repeated pointings are what a deep-drilling sequence is for.
    """
    kept = visits.loc[~_deep_drilling(visits)].sort_values("observationStartMJD")
    if len(kept) == 0:
        return 0
    ra, dec = kept["fieldRA"].to_numpy(float), kept["fieldDec"].to_numpy(float)
    same = _separation_deg(ra[:-1], dec[:-1], ra[1:], dec[1:]) < SAME_POINTING_DEG
    longest = current = 1
    for repeated in same:
        current = current + 1 if repeated else 1
        longest = max(longest, current)
    return longest


def band_changes(visits: pd.DataFrame) -> int:
    """Number of times the band differs from the previous visit's (time order)."""
    bands = visits.sort_values("observationStartMJD")["band"].astype(str).to_numpy()
    return int(np.count_nonzero(bands[1:] != bands[:-1])) if len(bands) > 1 else 0


def _median(visits: pd.DataFrame, column: str) -> float | None:
    if column not in visits.columns:
        return None
    values = pd.to_numeric(visits[column], errors="coerce").dropna()
    return float(values.median()) if len(values) else None


def _airmass(visits: pd.DataFrame) -> float | None:
    if "airmass" in visits.columns:
        return _median(visits, "airmass")
    if "altitude" in visits.columns:
        alt = pd.to_numeric(visits["altitude"], errors="coerce").dropna()
        return float((1.0 / np.sin(np.radians(alt))).median()) if len(alt) else None
    return None


def _slew_seconds(visits: pd.DataFrame) -> float | None:
    """Median slew: ``slewTime`` when recorded, else the gap between a visit's end and the next start."""
    if "slewTime" in visits.columns:
        slew = pd.to_numeric(visits["slewTime"], errors="coerce").dropna()
        slew = slew[slew > 0]  # the night's first visit records no slew
        return float(slew.median()) if len(slew) else None
    if "visitTime" not in visits.columns or len(visits) < 2:
        return None
    ordered = visits.sort_values("observationStartMJD")
    start = ordered["observationStartMJD"].to_numpy(float) * 86400.0
    gaps = start[1:] - start[:-1] - ordered["visitTime"].to_numpy(float)[:-1]
    return float(np.median(gaps))


def _band_mix(visits: pd.DataFrame, dark: np.ndarray) -> dict[str, float | None]:
    """Band shares of dark-sky and bright-sky visits (None when too few, or no moon columns)."""
    shares: dict[str, float | None] = {
        "dark_blue_share": None,
        "bright_u_share": None,
        "bright_red_share": None,
        "dark_sky_visits": None,
        "bright_sky_visits": None,
    }
    if "moonPhase" not in visits.columns or "moonAlt" not in visits.columns:
        return shares
    phase = pd.to_numeric(visits["moonPhase"], errors="coerce").to_numpy(float)
    moon_up = pd.to_numeric(visits["moonAlt"], errors="coerce").to_numpy(float) > 0
    bands = visits["band"].astype(str).to_numpy()
    dark_sky = dark & (~moon_up | (phase < DARK_MOON_PHASE))
    bright_sky = dark & moon_up & (phase > BRIGHT_MOON_PHASE)
    shares["dark_sky_visits"] = float(dark_sky.sum())
    shares["bright_sky_visits"] = float(bright_sky.sum())
    if dark_sky.sum() >= MIN_VISITS_FOR_MIX:
        shares["dark_blue_share"] = float(np.isin(bands[dark_sky], ("u", "g")).mean())
    if bright_sky.sum() >= MIN_VISITS_FOR_MIX:
        shares["bright_u_share"] = float((bands[bright_sky] == "u").mean())
        shares["bright_red_share"] = float(np.isin(bands[bright_sky], ("z", "y")).mean())
    return shares


def measure_night(
    visits: pd.DataFrame, day_obs: str | int | dt.date, *, observing_start_mjd: float | None = None
) -> dict[str, float | None]:
    """The night's numbers (see the module docstring). ``visits`` must all belong to ``day_obs``.

    ``observing_start_mjd`` is when observing could start (a delayed-start simulation's start):
    time before it counts neither as dark time nor as night to use. Default: evening twilight.
    """
    night = parse_dayobs(day_obs)
    slots = _slot_grid(night)
    sun_alt = sun_altitude_deg(slots + SLOT_MINUTES / 2880.0)  # at each slot's middle
    usable = slots >= (observing_start_mjd or -np.inf) - SLOT_MINUTES / 1440.0 / 2
    night_slots = (sun_alt < NIGHT_SUN_ALT_DEG) & usable
    dark_slots = (sun_alt < DARK_SUN_ALT_DEG) & usable
    hours = SLOT_MINUTES / 60.0
    mjd = visits["observationStartMJD"].to_numpy(float)
    slot_of_visit = np.floor((mjd - slots[0]) * 1440.0 / SLOT_MINUTES).astype(int)
    inside = (slot_of_visit >= 0) & (slot_of_visit < slots.size)
    visit_sun = (
        pd.to_numeric(visits["sunAlt"], errors="coerce").to_numpy(float)
        if "sunAlt" in visits.columns
        else sun_altitude_deg(mjd)
    )
    dark_visits = visit_sun < DARK_SUN_ALT_DEG
    used = np.zeros(slots.size, dtype=bool)
    used[slot_of_visit[inside]] = True
    dark_hours = dark_slots.sum() * hours
    night_hours = night_slots.sum() * hours
    observed_hours = used[night_slots].sum() * hours
    numbers: dict[str, float | None] = {
        "night_hours": night_hours,
        "dark_hours": dark_hours,
        "observed_hours": observed_hours,
        "visits_per_dark_hour": float(dark_visits.sum() / dark_hours) if dark_hours > 0 else None,
        "same_pointing_run": float(longest_same_pointing_run(visits)) if len(visits) else None,
        "band_changes": float(band_changes(visits)),
        "median_airmass": _airmass(visits),
        "median_slew": _slew_seconds(visits),
        "night_used": float(observed_hours / night_hours) if night_hours > 0 else None,
        "moon_phase": _median(visits, "moonPhase"),
    }
    numbers.update(_band_mix(visits, dark_visits))
    return numbers


def _range_text(limits: dict[str, float]) -> str:
    low, high = limits.get("min"), limits.get("max")
    if low is not None and high is not None:
        return f"{low:g}..{high:g}"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


def _judge(
    rule: str, value: float | None, thresholds: dict[str, dict[str, float]], *, note_if_missing: str
) -> Finding:
    limits = thresholds[rule]
    expected = _range_text(limits)
    if value is None:
        return Finding(rule, None, expected, None, note_if_missing)
    ok = limits.get("min", -np.inf) <= value <= limits.get("max", np.inf)
    return Finding(rule, float(value), expected, bool(ok))


def judge_night(numbers: dict[str, float | None], telescope: str = "simonyi") -> list[Finding]:
    """Each rule's finding for a night's numbers (from :func:`measure_night`), against the
    telescope's ranges (:func:`thresholds_for`)."""
    limits = thresholds_for(telescope)
    findings = [
        _judge(
            "visits_per_dark_hour", numbers["visits_per_dark_hour"], limits, note_if_missing="no dark time"
        ),
        _judge("same_pointing_run", numbers["same_pointing_run"], limits, note_if_missing="no visits"),
    ]
    observed = numbers.get("observed_hours") or 0.0
    if observed >= BAND_CHANGE_MIN_HOURS:
        findings.append(_judge("band_changes", numbers["band_changes"], limits, note_if_missing=""))
    else:
        findings.append(
            Finding(
                "band_changes",
                numbers["band_changes"],
                _range_text(limits["band_changes"]),
                None,
                f"only {observed:.1f} h observed (the rule needs {BAND_CHANGE_MIN_HOURS:g})",
            )
        )
    findings.append(_judge("median_airmass", numbers["median_airmass"], limits, note_if_missing="no airmass"))
    findings.append(_judge("median_slew", numbers["median_slew"], limits, note_if_missing="no slew times"))
    findings.append(_judge("night_used", numbers["night_used"], limits, note_if_missing="no night time"))
    mix = [
        _judge(rule, numbers[rule], limits, note_if_missing="")
        for rule in ("dark_blue_share", "bright_u_share", "bright_red_share")
    ]
    applicable = [f for f in mix if f.passed is not None]
    value_text = ", ".join(f"{f.rule} {_fmt(f.value)}" for f in applicable)
    findings.append(
        Finding(
            "band_mix_moon",
            None,
            "; ".join(f"{f.rule} {f.expected}" for f in mix),
            None if not applicable else all(f.passed for f in applicable),
            value_text
            or f"fewer than {MIN_VISITS_FOR_MIX} dark-sky or bright-sky visits (or no moon columns)",
        )
    )
    return findings


def assess_night(
    visits: pd.DataFrame,
    day_obs: str | int | dt.date,
    *,
    observing_start_mjd: float | None = None,
    telescope: str = "simonyi",
) -> NightPlausibility:
    """Measure and judge one night of visits (all of ``day_obs``) against the telescope's ranges."""
    _require_columns(visits)
    night = parse_dayobs(day_obs)
    thresholds_for(telescope)  # an unknown telescope fails before the measuring
    numbers = measure_night(visits, night, observing_start_mjd=observing_start_mjd)
    return NightPlausibility(night, len(visits), numbers, judge_night(numbers, telescope), telescope)


def assess_nights(
    visits: pd.DataFrame, *, observing_start_mjd: float | None = None, telescope: str = "simonyi"
) -> list[NightPlausibility]:
    """:func:`assess_night` for each dayobs the visits cover, in order.

    ``observing_start_mjd`` applies to the night it falls in (a delayed start delays only the
    first night of a multi-night simulation).
    """
    _require_columns(visits)
    if len(visits) == 0:
        return []
    nights = visits["observationStartMJD"].map(lambda mjd: dayobs_of_mjd(float(mjd)))
    results = []
    for night in sorted(set(nights)):
        start = observing_start_mjd
        if start is not None and dayobs_of_mjd(start) != night:
            start = None
        results.append(
            assess_night(visits.loc[nights == night], night, observing_start_mjd=start, telescope=telescope)
        )
    return results


def _require_columns(visits: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in visits.columns]
    if missing:
        raise InvalidInputError(
            f"visits lack the opsim columns {missing} needed to judge a night's plausibility"
        )
