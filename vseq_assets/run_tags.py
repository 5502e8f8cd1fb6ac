"""The telescope and family tags of every run that materializes a vseq asset.

Runs of vseq's jobs (schedules, ``vseq-nightly``, backfills launched from a job's page) carry
the job's tags ``vseq/telescope`` and ``vseq/family``. A backfill launched from an asset's page
runs in Dagster's hidden ``__ASSET_JOB`` with only the backfill's tags (Dagster 1.13 has no way
to give an asset's runs tags of their own, nor, short of renaming vseq's jobs, to make that
backfill use a named job; see ``docs/deployment.md``, "Backfills from the UI"). Each vseq step
therefore adds the two tags to its run when they are missing, so that the Runs page filters such
runs by telescope and family as well (``vseq_tests/assets/test_ui_backfill.py``).
"""

from __future__ import annotations

from typing import Any

TELESCOPE_TAG = "vseq/telescope"
FAMILY_TAG = "vseq/family"


def tag_run(context: Any, telescope: str, family: str) -> None:
    """Add ``vseq/telescope`` and ``vseq/family`` to the step's run unless it has them."""
    wanted = {TELESCOPE_TAG: telescope, FAMILY_TAG: family}
    missing = {key: value for key, value in wanted.items() if key not in context.run.tags}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)
