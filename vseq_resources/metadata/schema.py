"""SQLAlchemy Core description of the metadata database, as it stands at the newest revision.

Readers outside vseq (obsloctap, schedview, people with psql) query these tables and views by
name, so names, columns and types follow the production schema of the reference archive
(``rubin_sim.sim_archive``, schema ``vsmd``) exactly. The tables carry no schema: every connection
vseq opens sets ``search_path`` to the configured schema, so the same objects serve production,
the embedded server and the per-test schemas.

This module is what the code queries through; the DDL that creates the objects lives in the
Alembic revisions (``migrations/versions``), which must stay frozen once released. A test checks
that both agree with the database catalog.
"""

from __future__ import annotations

from sqlalchemy import (
    BIGINT,
    BOOLEAN,
    DATE,
    INTEGER,
    TEXT,
    TIMESTAMP,
    Column,
    ForeignKey,
    Index,
    MetaData,
    Table,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import BYTEA, DOUBLE_PRECISION, JSONB, UUID

metadata = MetaData()
"""The tables (views are in :data:`view_metadata`, so ``create_all`` never tries to make them)."""

view_metadata = MetaData()
"""The views, described as tables so that Core can select from them."""

SIM_CREATION_DAY_OBS_SQL = "DATE((creation_time AT TIME ZONE 'UTC') - INTERVAL '12 hours')"
"""The dayobs of a creation time, evaluated in UTC whatever the session time zone.

The reference view wrote ``DATE(creation_time - INTERVAL '12 hours')``, which casts in the
session time zone; this form is also immutable, so it can be indexed.
"""

NIGHT_SPAN_CLASS_SQL = "LENGTH(LTRIM(CAST(CAST(last_day_obs - first_day_obs AS BIT(31)) AS TEXT), '0'))"
"""The span class of a sequence: the bit length of ``last_day_obs - first_day_obs`` (revision 0007).

A sequence of class ``c`` covers night N only if it starts at most ``2^c - 1`` nights before N, so
"covering N" is one bounded range scan per class of an index on (telescope, class, first night).
"""


def _night_span_index(table: str) -> Index:
    return Index(
        f"{table}_night_span_idx", "telescope", literal_column(NIGHT_SPAN_CLASS_SQL), "first_day_obs"
    )


def _visitseq_columns() -> list[Column]:
    """The columns of ``visitseq``, which every child table inherits."""
    return [
        Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
        Column("visitseq_sha256", BYTEA, nullable=False),
        Column("visitseq_label", TEXT, nullable=False),
        Column("visitseq_url", TEXT),
        Column("telescope", TEXT, nullable=False),
        Column("first_day_obs", DATE),
        Column("last_day_obs", DATE),
        Column("creation_time", TIMESTAMP(timezone=True), server_default=func.now()),
    ]


visitseq = Table(
    "visitseq",
    metadata,
    *_visitseq_columns(),
    Index("visitseq_sha256_idx", "visitseq_sha256"),
    _night_span_index("visitseq"),
)

simulations = Table(
    "simulations",
    metadata,
    *_visitseq_columns(),
    Column("scheduler_version", TEXT),
    Column("config_url", TEXT),
    Column("conda_env_sha256", BYTEA),
    Column("parent_visitseq_uuid", UUID(as_uuid=True)),
    Column("sim_runner_kwargs", JSONB),
    Column("parent_last_day_obs", DATE),
    Index("simulations_sha256_idx", "visitseq_sha256"),
    _night_span_index("simulations"),
    Index("simulations_night_idx", "telescope", "first_day_obs", "last_day_obs", "creation_time"),
    Index("simulations_telescope_creation_idx", "telescope", "creation_time"),
    Index(
        "simulations_creation_day_obs_idx",
        literal_column(SIM_CREATION_DAY_OBS_SQL),
        "creation_time",
        "visitseq_uuid",
    ),
    postgresql_inherits="visitseq",
)

completed = Table(
    "completed",
    metadata,
    *_visitseq_columns(),
    Column("query", TEXT),
    Index("completed_sha256_idx", "visitseq_sha256"),
    _night_span_index("completed"),
    postgresql_inherits="visitseq",
)

mixedvisitseq = Table(
    "mixedvisitseq",
    metadata,
    *_visitseq_columns(),
    Column("last_early_day_obs", DATE),
    Column("first_late_day_obs", DATE),
    Column("early_parent_uuid", UUID(as_uuid=True)),
    Column("late_parent_uuid", UUID(as_uuid=True)),
    Index("mixedvisitseq_sha256_idx", "visitseq_sha256"),
    _night_span_index("mixedvisitseq"),
    postgresql_inherits="visitseq",
)

tags = Table(
    "tags",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True)),
    Column("tag", TEXT, nullable=False),
    Index("tag_idx", "tag"),
    Index("tags_visitseq_tag_key", "visitseq_uuid", "tag", unique=True),
    Index("tags_tag_visitseq_idx", "tag", "visitseq_uuid"),
)

comments = Table(
    "comments",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True)),
    Column("comment_time", TIMESTAMP(timezone=True), server_default=func.now()),
    Column("author", TEXT),
    Column("comment", TEXT, nullable=False),
    Index("comments_visitseq_idx", "visitseq_uuid"),
)

files = Table(
    "files",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True),
    Column("file_type", TEXT, primary_key=True),
    Column("file_sha256", BYTEA, nullable=False),
    Column("file_url", TEXT),
    Index("files_visitseq_idx", "visitseq_uuid"),
)

conda_env = Table(
    "conda_env",
    metadata,
    Column("conda_env_hash", BYTEA, primary_key=True),
    Column("conda_env", JSONB, nullable=False),
)

STATS_VALUE_COLUMNS = ("count", "mean", "std", "min", "p05", "q1", "median", "q3", "p95", "max")

nightly_stats = Table(
    "nightly_stats",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True),
    Column("day_obs", DATE, primary_key=True),
    Column("value_name", TEXT, primary_key=True),
    Column("accumulated", BOOLEAN, primary_key=True),
    Column("count", INTEGER),
    *(Column(name, DOUBLE_PRECISION) for name in STATS_VALUE_COLUMNS[1:]),
    Index("nightly_stats_day_obs_idx", "day_obs", "visitseq_uuid"),
)

# Reserved for MAF results: they exist in production, no tool writes them yet.
maf_metrics = Table(
    "maf_metrics",
    metadata,
    Column("maf_metric_name", TEXT, primary_key=True),
    Column("rubin_sim_version", TEXT),
    Column("maf_constraint", TEXT),
    Column("metric_class_name", TEXT),
    Column("metric_args", JSONB),
    Column("slicer_class_name", TEXT),
    Column("slicer_args", JSONB),
    Index("maf_metrics_name_idx", "maf_metric_name"),
)

maf_summary_metrics = Table(
    "maf_summary_metrics",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True),
    Column("maf_metric_name", TEXT, ForeignKey("maf_metrics.maf_metric_name"), primary_key=True),
    Column("day_obs", DATE),
    Column("accumulated", BOOLEAN),
    Column("summary_value", DOUBLE_PRECISION),
    Index("maf_summary_metrics_name_idx", "maf_metric_name"),
)

maf_metric_sets = Table(
    "maf_metric_sets",
    metadata,
    Column("metric_set", TEXT, primary_key=True),
    Column("maf_metric_name", TEXT, ForeignKey("maf_metrics.maf_metric_name"), primary_key=True),
    Column("short_name", TEXT),
    Column("style", TEXT),
    Column("invert", BOOLEAN),
    Column("mag", BOOLEAN),
    Index("maf_metric_sets_metric_name_idx", "maf_metric_name"),
    Index("maf_metric_sets_set_idx", "metric_set"),
)

maf_healpix_stats = Table(
    "maf_healpix_stats",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True),
    Column("maf_metric_name", TEXT, ForeignKey("maf_metrics.maf_metric_name"), primary_key=True),
    Column("day_obs", DATE, primary_key=True),
    Column("accumulated", BOOLEAN, primary_key=True),
    Column("nside", INTEGER, primary_key=True),
    Column("count", INTEGER, nullable=False),
    *(Column(name, DOUBLE_PRECISION) for name in STATS_VALUE_COLUMNS[1:]),
    Column("url", TEXT),
)

SIMULATIONS_EXTRA_COLUMNS = (
    "sim_creation_day_obs",
    "daily_id",
    "visitseq_uuid",
    "visitseq_label",
    "visitseq_url",
    "telescope",
    "first_day_obs",
    "last_day_obs",
    "creation_time",
    "scheduler_version",
    "config_url",
    "sim_runner_kwargs",
    "conda_env_sha256",
    "parent_visitseq_uuid",
    "parent_last_day_obs",
    "tags",
    "comments",
    "files",
)
"""The columns of ``simulations_extra``, in the order of the reference view.

The reference view leaves out ``visitseq_sha256``; readers rely on this exact list.
"""

simulations_extra = Table(
    "simulations_extra",
    view_metadata,
    Column("sim_creation_day_obs", DATE),
    Column("daily_id", BIGINT),
    *(Column(name, simulations.c[name].type) for name in SIMULATIONS_EXTRA_COLUMNS[2:-3]),
    Column("tags", JSONB),
    Column("comments", JSONB),
    Column("files", JSONB),
)

CONDA_PACKAGE_COLUMNS = (
    "package_name",
    "channel",
    "package_version",
    "base_url",
    "platform",
    "dist_name",
    "build_number",
    "build_string",
)

conda_packages = Table(
    "conda_packages",
    view_metadata,
    Column("conda_env_hash", BYTEA),
    *(Column(name, TEXT) for name in CONDA_PACKAGE_COLUMNS),
)

simulation_packages = Table(
    "simulation_packages",
    view_metadata,
    Column("visitseq_uuid", UUID(as_uuid=True)),
    Column("conda_env_hash", BYTEA),
    *(Column(name, TEXT) for name in CONDA_PACKAGE_COLUMNS),
)

maf_summary = Table(
    "maf_summary",
    view_metadata,
    Column("metric_set", TEXT),
    Column("maf_metric_name", TEXT),
    Column("visitseq_label", TEXT),
    Column("day_obs", DATE),
    Column("accumulated", BOOLEAN),
    Column("summary_value", DOUBLE_PRECISION),
    Column("short_name", TEXT),
    Column("style", TEXT),
    Column("invert", BOOLEAN),
    Column("mag", BOOLEAN),
    Column("tag", TEXT),
)

file_checksums = Table(
    "file_checksums",
    metadata,
    Column("file_url", TEXT, primary_key=True),
    Column("visitseq_uuid", UUID(as_uuid=True), nullable=False),
    Column("file_sha256", BYTEA, nullable=False),
    Column("size_bytes", BIGINT, nullable=False),
    Column("recorded_time", TIMESTAMP(timezone=True), server_default=func.now()),
    Index("file_checksums_visitseq_idx", "visitseq_uuid"),
)
"""vseq's own: the SHA-256 and size of every file vseq stored, ``visits.h5`` included.

The reference records no checksum for visits files (``files`` never holds them); this table lets
reads and ``verify`` check every stored file. Readers of the reference schema never see it.
"""

simulation_tag_spans = Table(
    "simulation_tag_spans",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True),
    Column("tag", TEXT, primary_key=True),
    Column("telescope", TEXT, nullable=False),
    Column("first_day_obs", DATE),
    Column("last_day_obs", DATE),
    Column("span_class", INTEGER),
    Column("creation_time", TIMESTAMP(timezone=True)),
    Index(
        "simulation_tag_spans_night_idx",
        "tag",
        "telescope",
        "span_class",
        "first_day_obs",
        postgresql_include=["last_day_obs", "creation_time"],
    ),
)
"""vseq's own: one row per (simulation, tag) with the simulation's telescope, covered nights, span
class and creation time (revision 0007), kept in step by triggers on ``tags``, ``simulations`` and
``visitseq``. "Simulations carrying a tag that cover a night" is read from it in time proportional
to the answer; queries take only candidates from it and re-check them on the reference tables.
"""

simulations_extra_columns = Table(
    "simulations_extra_columns",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True),
    Column("tags", JSONB, nullable=False),
    Column("sim_creation_day_obs", DATE),
    Column("daily_id", BIGINT),
    Column("telescope", TEXT),
    Column("first_day_obs", DATE),
    Column("last_day_obs", DATE),
    Column("creation_time", TIMESTAMP(timezone=True)),
    Index(
        "simulations_extra_columns_tags_idx",
        "tags",
        postgresql_using="gin",
        postgresql_ops={"tags": "jsonb_path_ops"},
    ),
    Index("simulations_extra_columns_number_idx", "daily_id", "sim_creation_day_obs"),
    Index("simulations_extra_columns_day_idx", "sim_creation_day_obs"),
    Index("simulations_extra_columns_creation_idx", "telescope", "creation_time"),
)
"""vseq's own (revision 0009): the columns of ``simulations_extra`` that production's readers
filter on, stored so that their filters are index scans the planner can estimate. ``tags``: the
sequence's tags as the view shows them (a sorted JSONB array), for every tagged sequence and
numbered simulation, GIN-indexed (``tags @> '[...]'``); ``sim_creation_day_obs`` and ``daily_id``:
the simulation's UTC creation dayobs and number (NULL for sequences that are not numbered
simulations), written only by a transaction that saw every simulation of the day, with copies of the
simulation's telescope, nights and creation time (the view's other filtered columns). Kept by
triggers on ``tags``, ``simulations`` and ``visitseq``.
"""

simulation_unnumbered_days = Table(
    "simulation_unnumbered_days",
    metadata,
    Column("sim_creation_day_obs", DATE, nullable=False),
    Index("simulation_unnumbered_days_idx", "sim_creation_day_obs"),
)
"""vseq's own: days whose stored numbers may be out of date (a writer could not number the day
without waiting for another; revision 0009). ``simulations_extra`` numbers these days by a window;
the next writer of the day that can number it clears them. Not unique, so marking never waits.
"""

accumulated_stats = Table(
    "accumulated_stats",
    metadata,
    Column("visitseq_uuid", UUID(as_uuid=True), primary_key=True),
    Column("day_obs", DATE, primary_key=True),
    Column("value_name", TEXT, primary_key=True),
    Column("count", INTEGER),
    *(Column(name, DOUBLE_PRECISION) for name in STATS_VALUE_COLUMNS[1:]),
)
"""vseq's own: statistics of every visit up to and including ``day_obs`` (revision 0008).

``nightly_stats`` has an ``accumulated`` flag, but the reference's readers aggregate its rows per
``value_name`` without looking at it, so a cumulative row stored there would be served as that
night's. vseq therefore keeps ``nightly_stats`` to per-night rows (``accumulated`` false) and the
cumulative ones here, where no reference query looks.
"""

VSEQ_TABLES = (
    "file_checksums",
    "simulation_tag_spans",
    "accumulated_stats",
    "simulations_extra_columns",
    "simulation_unnumbered_days",
)
"""Tables vseq adds to the reference schema (absent from a schema the reference created)."""

VISITSEQ_TABLES: dict[str, Table] = {t.name: t for t in (visitseq, simulations, completed, mixedvisitseq)}
"""The tables a visit sequence row can live in (``visitseq`` itself holds sequences of no kind)."""

REFERENCE_TABLES = tuple(name for name in metadata.tables if name not in VSEQ_TABLES)
REFERENCE_VIEWS = tuple(view_metadata.tables)
