"""``<telescope>/consdb_visits``: one night's completed visits from ConsDB, in the opsim schema."""

# No ``from __future__ import annotations`` here: Dagster inspects the context and resource
# annotations of asset and check functions when they are defined.

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DataVersion,
    Failure,
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
"""Dagster pool of the steps that query ConsDB (its limit caps parallel queries in a backfill)."""
RETRIES = 2
RETRY_WAIT_SECONDS = 60
"""ConsDB unreachable: the step is tried again after 1 and 2 minutes, then fails."""
NOT_INGESTED_RETRIES = 6
NOT_INGESTED_WAIT_SECONDS = 1800
"""ConsDB has not ingested the night: the step is tried again every 30 minutes for 3 hours (the
next day's afternoon calibrations end a day without exposures), then fails with one line."""


def consdb_visits_asset(
    telescope: str,
    not_ingested_retries: int = NOT_INGESTED_RETRIES,
    not_ingested_wait_seconds: float = NOT_INGESTED_WAIT_SECONDS,
) -> AssetsDefinition:
    """The ``consdb_visits`` asset of one telescope.

    A night ConsDB has not ingested (:mod:`vseq_resources.consdb.ingestion`: no exposure of that
    day or later) is never archived as empty: the step is retried ``not_ingested_retries`` times,
    ``not_ingested_wait_seconds`` apart, then fails naming the night and what to do.
    """

    @asset(
        key=asset_key(telescope, CONSDB_VISITS),
        partitions_def=completed_partitions,
        group_name=group_name(telescope),
        kinds={"postgres", "pandas"},
        pool=CONSDB_POOL,
        description=(
            f"Completed {telescope} visits of the night (dayobs) from ConsDB, selected by the integer "
            "day_obs and converted to the opsim `observations` schema. Only a night ConsDB has "
            "ingested (an exposure of that day or later, calibrations included) is read; one with "
            "no visit is an empty night (weather, shutdown), archived as such with a warning."
        ),
    )
    def consdb_visits(context: AssetExecutionContext, consdb: ConsDBResource) -> Output[pd.DataFrame]:
        from vseq_resources.consdb.ingestion import NightNotIngestedError
        from vseq_resources.visits import validate_observations, visits_content_hash

        tag_run(context, telescope, "completed")
        night = parse_dayobs(context.partition_key)
        context.log.info(
            "querying %s for %s visits of day_obs %d", consdb.describe(), telescope, dayobs_int(night)
        )
        try:
            ingestion = consdb.night_ingestion(telescope, night)
            raw, visits = consdb.night_opsim_visits(telescope, night)
        except ConsDBUnavailableError as err:
            # ConsDB down or overloaded (the client already retried a few times): try the step
            # again later. Refused credentials or a rejected query fail at once.
            wait = RETRY_WAIT_SECONDS * 2**context.retry_number
            raise RetryRequested(max_retries=RETRIES, seconds_to_wait=wait) from err
        except NightNotIngestedError as err:
            if context.retry_number < not_ingested_retries:
                context.log.warning("%s; trying again in %.0f s", err, not_ingested_wait_seconds)
                raise RetryRequested(
                    max_retries=not_ingested_retries, seconds_to_wait=not_ingested_wait_seconds
                ) from err
            raise Failure(
                description=(
                    f"{err} (tried {not_ingested_retries + 1} times): nothing archived; materialize "
                    f"partition {night} again once ConsDB has it (any exposure of that day or later)"
                ),
                allow_retries=False,
            ) from None
        # Visits the archive would refuse (no, missing or absurd start times) fail here, with one
        # clear InvalidInputError, rather than as a crash in the reporting below.
        validate_observations(visits)
        sha256 = visits_content_hash(visits)
        context.log.info("%d ConsDB rows -> %d opsim visits", len(raw), len(visits))
        metadata = {
            "day_obs": MetadataValue.int(dayobs_int(night)),
            "source": MetadataValue.text(consdb.describe()),
            "consdb_rows": MetadataValue.int(len(raw)),
            "consdb_exposures": MetadataValue.int(ingestion.exposures),
            "empty_night": MetadataValue.bool(visits.empty),
            "content_sha256": MetadataValue.text(sha256.hex()),
            **visits_metadata(visits),
            "query": sql_block(consdb.night_query(telescope, night)),
        }
        if visits.empty:
            metadata["empty_night_reason"] = MetadataValue.text(ingestion.empty_reason())
            context.log.warning("%s %s is an empty night: %s", telescope, night, ingestion.empty_reason())
        return Output(visits, metadata=metadata, data_version=DataVersion(sha256.hex()))

    return consdb_visits
