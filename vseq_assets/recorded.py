"""What Dagster recorded about an asset partition, for checks that compare it with the archive."""

# No ``from __future__ import annotations`` here, as in the check modules that use it.

from typing import Any

from dagster import AssetCheckExecutionContext, AssetKey, AssetRecordsFilter


def materialized_metadata(context: AssetCheckExecutionContext, key: AssetKey) -> dict[str, Any]:
    """Metadata values of the newest materialization of the check's partition of ``key``.

    Empty when Dagster has none (a check run on its own against an archive filled elsewhere).
    """
    result = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[context.partition_key]), limit=1
    )
    if not result.records or result.records[0].asset_materialization is None:
        return {}
    metadata = result.records[0].asset_materialization.metadata
    return {name: getattr(value, "value", value) for name, value in metadata.items()}
