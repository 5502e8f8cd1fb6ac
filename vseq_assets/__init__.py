"""vseq's Dagster code: partitions, resources, assets, checks, schedules and their definitions."""

import warnings

# Features vseq uses on purpose that Dagster 1.13 still labels beta/preview: partitioned asset
# checks (one check result per dayobs partition) and data versions on outputs. Silence exactly
# those labels, not Dagster's warnings in general.
warnings.filterwarnings("ignore", message=r"Specifying a partitions_def on an AssetCheckSpec")
warnings.filterwarnings("ignore", message=r"Parameter `data_version` of initializer `Output.__init__`")
