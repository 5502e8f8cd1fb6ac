"""The local demo ConsDB: database ``consdb`` of the embedded server, filled with simulated nights.

For demos and development on a machine without access to the observatory's ConsDB
(``vseq-nightly`` with no ConsDB configured). A night is simulated with rubin_scheduler's offline
default survey (AuxTel: its first :data:`AUXTEL_HOURS` hours) and recorded as the ConsDB rows the
observatory would have written, the day's calibrations included
(:func:`vseq_resources.consdb.local.fill_nights`), only when the local ConsDB has not recorded
that day yet, so filling is idempotent and cheap once done.

Which nights it holds: ``vseq-nightly DAYOBS`` fills DAYOBS and the nights before it that it
pre-loads; any other past night is filled when a step asks for it (a backfill from the UI: the
``LocalConsDBResource`` fills on demand, :func:`fill_local_consdb`). A night that has not ended is
never invented: ConsDB has not ingested it, and the step says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..dayobs import dayobs_int

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

CONSDB_DATABASE = "consdb"
"""The local ConsDB's database in the embedded server."""
AUXTEL_HOURS = 3.0
"""AuxTel observes part of a night: its simulated nights are cut to this many hours."""


def local_consdb_url(state_dir: str | Path | None = None, database: str = CONSDB_DATABASE) -> str:
    """URL of the local ConsDB database in the embedded server (both started/created if needed)."""
    from ..config import default_state_dir
    from ..embedded import embedded_database_url, ensure_database

    server_url = embedded_database_url(Path(state_dir) if state_dir else default_state_dir())
    return ensure_database(server_url, database)


def nights_present(engine: sa.Engine, instrument: str, nights: Sequence[dt.date]) -> dict[dt.date, int]:
    """Visits per night of the nights the local ConsDB has recorded (any exposure of that day,
    calibrations included); nights it has not are absent. Creates nothing."""
    import sqlalchemy as sa

    # Not create_consdb_schema here: building the official schema's tables with felis is slow
    # for a check, and ``fill_nights`` creates them (all at once) before the first rows.
    if not sa.inspect(engine).has_table("exposure", schema=f"cdb_{instrument}"):
        return {}
    query = sa.text(
        f"SELECT e.day_obs, count(v.visit_id) FROM cdb_{instrument}.exposure AS e "
        f"LEFT JOIN cdb_{instrument}.visit1 AS v ON v.visit_id = e.exposure_id "
        "WHERE e.day_obs = ANY(:nights) GROUP BY e.day_obs"
    )
    with engine.connect() as conn:
        counts = dict(conn.execute(query, {"nights": [dayobs_int(n) for n in nights]}).all())
    return {night: int(counts[dayobs_int(night)]) for night in nights if dayobs_int(night) in counts}


def fill_local_consdb(
    state_dir: Path,
    telescopes: Sequence[str],
    nights: Sequence[dt.date],
    progress: Callable[[str], None] = lambda _: None,
    *,
    now: dt.datetime | None = None,
    database: str = CONSDB_DATABASE,
) -> dict[str, dict[dt.date, int]]:
    """Simulate and record every (telescope, night) not recorded yet; telescope -> night -> visits.

    Only nights that have ended: a night that has not happened is never invented
    (:class:`~vseq_resources.errors.InvalidInputError`). ``progress`` receives one line per night
    (found, or simulated and recorded).
    """
    import sqlalchemy as sa

    from ..dayobs import dayobs_end
    from ..errors import InvalidInputError
    from .instruments import instrument_for
    from .local import fill_nights

    moment = now or dt.datetime.now(dt.UTC)
    future = [night for night in nights if dayobs_end(night) > moment]
    if future:
        raise InvalidInputError(
            f"dayobs {future[0]} has not ended: the local demo ConsDB only simulates nights that are over"
        )
    # pre-ping: the server may have been restarted while a night was simulated (minutes)
    engine = sa.create_engine(local_consdb_url(state_dir, database), pool_pre_ping=True)
    filled: dict[str, dict[dt.date, int]] = {}
    try:
        for telescope in telescopes:
            instrument = instrument_for(telescope)
            present = nights_present(engine, instrument, nights)
            for night in nights:
                if night in present:
                    progress(f"{telescope} {night}: {present[night]} visits already in the local ConsDB")
                    continue
                progress(f"{telescope} {night}: simulating the night with rubin_scheduler ...")
                start = time.monotonic()
                visits = simulate_night(telescope, night, state_dir)
                counts = fill_nights(engine, instrument, visits, nights=[night])
                present[night] = counts.get(dayobs_int(night), 0)
                progress(
                    f"{telescope} {night}: {present[night]} visits recorded as ConsDB rows "
                    f"({time.monotonic() - start:.0f} s)"
                )
            filled[telescope] = {night: present[night] for night in nights}
    finally:
        engine.dispose()
    return filled


def simulate_night(telescope: str, night: dt.date, state_dir: Path) -> pd.DataFrame:
    """One night of the offline default survey (AuxTel: the first hours of it), opsim visits."""
    from ..config import DEFAULT_SCHEDULER_CONFIG
    from ..simulation import run_simulation

    # sim_runner prints its progress on stdout, which callers keep for their results.
    with contextlib.redirect_stdout(sys.stderr):
        result = run_simulation(
            DEFAULT_SCHEDULER_CONFIG,
            day_obs=night,
            nights=1,
            telescope=telescope,
            site_data_dir=state_dir / "site_data",
            duration_hours=AUXTEL_HOURS if telescope == "auxtel" else None,
        )
    return result.observations
