"""Drop ``simulation_days``: since 0009 nothing reads it, yet every simulation insert wrote it.

0006 added the table (one row per UTC creation dayobs that has simulations) for its view to
rank a day once, kept by two statement triggers on ``simulations``. Since 0009,
``simulations_extra`` takes ``daily_id`` from ``simulations_extra_columns`` (numbered by 0009's
own triggers) and ranks by a window only the days in ``simulation_unnumbered_days``; no view,
function or query of vseq's reads ``simulation_days`` any more. Its triggers still ran on every
``INSERT`` and ``UPDATE`` of ``simulations`` (the statement's days taken from its transition
table and inserted under a lock timeout), for a table no one reads. This drops the triggers,
their function and the table.

The downgrade restores exactly what 0006 left: the table, refilled from the simulations present
(their UTC creation dayobs), the ``SELECT`` grant to the view's owner, the ``SECURITY DEFINER``
function with its pinned search path, and both triggers, from 0006's own statements. 0009's
downgrade, which puts 0006's view back, needs the table again. The privileges ``migrate()``
granted other roles on it (as on ``simulations``) are not restored: no role needs them, since
the triggers write the table with their owner's rights and 0006's view reads it with its owner's.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DAYS = importlib.import_module("vseq_resources.metadata.migrations.versions.0006_daily_id_per_day_window")


def upgrade() -> None:
    op.execute("DROP TRIGGER simulation_days_on_update ON simulations")
    op.execute("DROP TRIGGER simulation_days_on_insert ON simulations")
    op.execute("DROP FUNCTION simulation_days_record()")
    op.execute("DROP TABLE simulation_days")


def downgrade() -> None:
    # 0006's upgrade, without its view (0010's stays until 0009's downgrade replaces it).
    op.execute(DAYS.SIMULATION_DAYS)
    op.execute(DAYS.FILL_SIMULATION_DAYS)
    op.execute("ANALYZE simulation_days")
    op.execute(DAYS.GRANT_VIEW_OWNER)
    op.execute(DAYS.RECORD_DAYS_FUNCTION)
    op.execute(DAYS.PIN_SEARCH_PATH)
    for trigger in DAYS.TRIGGERS:
        op.execute(trigger)
