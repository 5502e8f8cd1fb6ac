"""``<telescope>/consdb_visits``: one night's completed visits from ConsDB, in the opsim schema."""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DataVersion,
    MetadataValue,
    Output,
    RetryRequested,
    asset,
)

from vseq_resources.consdb.client import ConsDBUnavailableError
from vseq_resources.dagster_resources import ConsDBResource
from vseq_resources.dayobs import dayobs_int, parse_dayobs

from .keys import CONSDB_VISITS, asset_key, group_name
from .partitions import completed_partitions
from .reporting import sql_block, visits_metadata
from .run_tags import tag_run

CONSDB_POOL = "consdb"
RETRIES = 2
RETRY_WAIT_SECONDS = 60
"""Dagster pool of the steps that query ConsDB (its limit caps parallel queries in a backfill)."""


def consdb_visits_asset(telescope: str) -> AssetsDefinition:
    """The ``consdb_visits`` asset of one telescope."""

    @asset(
        key=asset_key(telescope, CONSDB_VISITS),
        partitions_def=completed_partitions,
        group_name=group_name(telescope),
        kinds={"postgres", "pandas"},
        pool=CONSDB_POOL,
        description=(
            f"Completed {telescope} visits of the night (dayobs) from ConsDB, selected by the integer "
            "day_obs and converted to the opsim `observations` schema. An empty table is a valid "
            "night: nothing was observed."
        ),
    )
    def consdb_visits(context: AssetExecutionContext, consdb: ConsDBResource) -> Output[pd.DataFrame]:
        from vseq_resources.visits import validate_observations, visits_content_hash

        tag_run(context, telescope, "completed")
        night = parse_dayobs(context.partition_key)
        context.log.info(
            "querying %s for %s visits of day_obs %d", consdb.describe(), telescope, dayobs_int(night)
        )
        try:
            raw, visits = consdb.night_opsim_visits(telescope, night)
        except ConsDBUnavailableError as err:
            # ConsDB down or overloaded (the client already retried a few times): try the step
            # again later. Refused credentials or a rejected query fail at once.
            wait = RETRY_WAIT_SECONDS * 2**context.retry_number
            raise RetryRequested(max_retries=RETRIES, seconds_to_wait=wait) from err
        # Visits the archive would refuse (no, missing or absurd start times) fail here, with one
        # clear InvalidInputError, rather than as a crash in the reporting below.
        validate_observations(visits)
        sha256 = visits_content_hash(visits)
        context.log.info("%d ConsDB rows -> %d opsim visits", len(raw), len(visits))
        metadata = {
            "day_obs": MetadataValue.int(dayobs_int(night)),
            "source": MetadataValue.text(consdb.describe()),
            "consdb_rows": MetadataValue.int(len(raw)),
            "content_sha256": MetadataValue.text(sha256.hex()),
            **visits_metadata(visits),
            "query": sql_block(consdb.night_query(telescope, night)),
        }
        return Output(visits, metadata=metadata, data_version=DataVersion(sha256.hex()))

    return consdb_visits
