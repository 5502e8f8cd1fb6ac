"""The local demo ConsDB: database ``consdb`` of the embedded server, filled with simulated nights.

For demos and development on a machine without access to the observatory's ConsDB
(``vseq-nightly`` with no ConsDB configured). A night is simulated with rubin_scheduler's offline
default survey (AuxTel: its first :data:`AUXTEL_HOURS` hours) and recorded as the ConsDB rows the
observatory would have written (:func:`vseq_resources.consdb.local.fill_nights`) only when the
local ConsDB has no visits of it yet, so filling is idempotent and cheap once done.
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
    """Visits per night already in the local ConsDB (none before its schema exists); creates nothing."""
    import sqlalchemy as sa

    # Not create_consdb_schema here: building the official schema's tables with felis is slow
    # for a check, and ``fill_nights`` creates them (all at once) before the first rows.
    if not sa.inspect(engine).has_table("visit1", schema=f"cdb_{instrument}"):
        return dict.fromkeys(nights, 0)
    query = sa.text(
        f"SELECT day_obs, count(*) FROM cdb_{instrument}.visit1 WHERE day_obs = ANY(:nights) GROUP BY day_obs"
    )
    with engine.connect() as conn:
        counts = dict(conn.execute(query, {"nights": [dayobs_int(n) for n in nights]}).all())
    return {night: int(counts.get(dayobs_int(night), 0)) for night in nights}


def fill_local_consdb(
    state_dir: Path,
    telescopes: Sequence[str],
    nights: Sequence[dt.date],
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[dt.date, int]]:
    """Simulate and record every (telescope, night) that has no visits yet; telescope -> night -> visits.

    ``progress`` receives one line per night (found, or simulated and recorded).
    """
    import sqlalchemy as sa

    from .instruments import instrument_for
    from .local import fill_nights

    engine = sa.create_engine(local_consdb_url(state_dir, CONSDB_DATABASE))
    filled: dict[str, dict[dt.date, int]] = {}
    try:
        for telescope in telescopes:
            instrument = instrument_for(telescope)
            present = nights_present(engine, instrument, nights)
            for night in nights:
                if present[night]:
                    progress(f"{telescope} {night}: {present[night]} visits already in the local ConsDB")
                    continue
                progress(f"{telescope} {night}: simulating the night with rubin_scheduler ...")
                start = time.monotonic()
                visits = simulate_night(telescope, night, state_dir)
                counts = fill_nights(engine, instrument, visits)
                present[night] = counts.get(dayobs_int(night), 0)
                progress(
                    f"{telescope} {night}: {present[night]} visits recorded as ConsDB rows "
                    f"({time.monotonic() - start:.0f} s)"
                )
            filled[telescope] = present
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
