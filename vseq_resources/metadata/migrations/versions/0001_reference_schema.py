"""The reference schema, as the reference archive (rubin_sim.sim_archive) creates it in production.

Frozen: a schema the reference implementation created is *stamped* at this revision instead of
running it, so this DDL must describe exactly what production holds, bugs included (the
``simulations_extra`` view evaluates the creation dayobs in the session time zone and aggregates
every simulation; 0003 fixes both without changing what the view returns).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_VISITSEQ_TABLES = """
CREATE TABLE visitseq (
    visitseq_uuid   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    visitseq_sha256 BYTEA NOT NULL,
    visitseq_label  TEXT NOT NULL,
    visitseq_url    TEXT,
    telescope       TEXT NOT NULL,
    first_day_obs   DATE,
    last_day_obs    DATE,
    creation_time   TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TABLE simulations (
    scheduler_version    TEXT,
    config_url           TEXT,
    conda_env_sha256     BYTEA,
    parent_visitseq_uuid UUID,
    sim_runner_kwargs    JSONB,
    parent_last_day_obs  DATE,
    PRIMARY KEY (visitseq_uuid)
) INHERITS (visitseq);
CREATE TABLE completed (
    query TEXT,
    PRIMARY KEY (visitseq_uuid)
) INHERITS (visitseq);
CREATE TABLE mixedvisitseq (
    last_early_day_obs DATE,
    first_late_day_obs DATE,
    early_parent_uuid  UUID,
    late_parent_uuid   UUID,
    PRIMARY KEY (visitseq_uuid)
) INHERITS (visitseq);
"""

_SIDE_TABLES = """
CREATE TABLE tags (
    visitseq_uuid UUID,
    tag           TEXT NOT NULL
);
CREATE INDEX tag_idx ON tags (tag);
CREATE TABLE comments (
    visitseq_uuid UUID,
    comment_time  TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    author        TEXT,
    comment       TEXT NOT NULL
);
CREATE INDEX comments_visitseq_idx ON comments (visitseq_uuid);
CREATE TABLE files (
    visitseq_uuid UUID,
    file_type     TEXT NOT NULL,
    file_sha256   BYTEA NOT NULL,
    file_url      TEXT,
    PRIMARY KEY (visitseq_uuid, file_type)
);
CREATE INDEX files_visitseq_idx ON files (visitseq_uuid);
CREATE TABLE conda_env (
    conda_env_hash BYTEA PRIMARY KEY,
    conda_env      JSONB NOT NULL
);
CREATE TABLE nightly_stats (
    visitseq_uuid UUID NOT NULL,
    day_obs       DATE NOT NULL,
    value_name    TEXT NOT NULL,
    accumulated   BOOLEAN NOT NULL,
    count         INTEGER,
    mean          DOUBLE PRECISION,
    std           DOUBLE PRECISION,
    min           DOUBLE PRECISION,
    p05           DOUBLE PRECISION,
    q1            DOUBLE PRECISION,
    median        DOUBLE PRECISION,
    q3            DOUBLE PRECISION,
    p95           DOUBLE PRECISION,
    max           DOUBLE PRECISION,
    PRIMARY KEY (visitseq_uuid, day_obs, value_name, accumulated)
);
"""

_MAF_TABLES = """
CREATE TABLE maf_metrics (
    maf_metric_name   TEXT PRIMARY KEY,
    rubin_sim_version TEXT,
    maf_constraint    TEXT,
    metric_class_name TEXT,
    metric_args       JSONB,
    slicer_class_name TEXT,
    slicer_args       JSONB
);
CREATE INDEX maf_metrics_name_idx ON maf_metrics (maf_metric_name);
CREATE TABLE maf_summary_metrics (
    visitseq_uuid   UUID,
    maf_metric_name TEXT REFERENCES maf_metrics (maf_metric_name),
    day_obs         DATE,
    accumulated     BOOLEAN,
    summary_value   DOUBLE PRECISION,
    PRIMARY KEY (visitseq_uuid, maf_metric_name)
);
CREATE INDEX maf_summary_metrics_name_idx ON maf_summary_metrics (maf_metric_name);
CREATE TABLE maf_metric_sets (
    metric_set      TEXT,
    maf_metric_name TEXT REFERENCES maf_metrics (maf_metric_name),
    short_name      TEXT,
    style           TEXT,
    invert          BOOLEAN,
    mag             BOOLEAN,
    PRIMARY KEY (metric_set, maf_metric_name)
);
CREATE INDEX maf_metric_sets_metric_name_idx ON maf_metric_sets (maf_metric_name);
CREATE INDEX maf_metric_sets_set_idx ON maf_metric_sets (metric_set);
CREATE TABLE maf_healpix_stats (
    visitseq_uuid   UUID NOT NULL,
    maf_metric_name TEXT REFERENCES maf_metrics (maf_metric_name),
    day_obs         DATE NOT NULL,
    accumulated     BOOLEAN NOT NULL,
    nside           INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    mean            DOUBLE PRECISION,
    std             DOUBLE PRECISION,
    min             DOUBLE PRECISION,
    p05             DOUBLE PRECISION,
    q1              DOUBLE PRECISION,
    median          DOUBLE PRECISION,
    q3              DOUBLE PRECISION,
    p95             DOUBLE PRECISION,
    max             DOUBLE PRECISION,
    url             TEXT,
    PRIMARY KEY (visitseq_uuid, maf_metric_name, day_obs, accumulated, nside)
);
"""

# The view as production defines it: 0003 replaces its body; 0003's downgrade restores this text.
SIMULATIONS_EXTRA_REFERENCE = """
CREATE OR REPLACE VIEW simulations_extra AS
SELECT
    DATE(s.creation_time - INTERVAL '12 hours') AS sim_creation_day_obs,
    ROW_NUMBER() OVER (
        PARTITION BY DATE(s.creation_time - INTERVAL '12 hours')
        ORDER BY s.creation_time - INTERVAL '12 hours'
    ) AS daily_id,
    s.visitseq_uuid, s.visitseq_label, s.visitseq_url, s.telescope,
    s.first_day_obs, s.last_day_obs, s.creation_time,
    s.scheduler_version, s.config_url, s.sim_runner_kwargs, s.conda_env_sha256,
    s.parent_visitseq_uuid, s.parent_last_day_obs,
    COALESCE(JSONB_AGG(DISTINCT t.tag) FILTER (WHERE t.tag IS NOT NULL), '[]'::JSONB) AS tags,
    COALESCE(
        JSONB_OBJECT_AGG(c.comment_time, c.comment) FILTER (WHERE c.comment_time IS NOT NULL),
        '{}'::JSONB
    ) AS comments,
    COALESCE(
        JSONB_OBJECT_AGG(f.file_type, f.file_url) FILTER (WHERE f.file_type IS NOT NULL),
        '{}'::JSONB
    ) AS files
FROM simulations AS s
LEFT JOIN tags AS t ON t.visitseq_uuid = s.visitseq_uuid
LEFT JOIN comments AS c ON c.visitseq_uuid = s.visitseq_uuid
LEFT JOIN files AS f ON f.visitseq_uuid = s.visitseq_uuid
GROUP BY s.visitseq_uuid, s.visitseq_label, s.visitseq_url, s.telescope,
    s.first_day_obs, s.last_day_obs, s.creation_time,
    s.scheduler_version, s.config_url, s.sim_runner_kwargs, s.conda_env_sha256,
    s.parent_visitseq_uuid, s.parent_last_day_obs
"""

_OTHER_VIEWS = """
CREATE VIEW conda_packages AS (
    SELECT c.conda_env_hash, p.name AS package_name, p.channel, p.version AS package_version,
        p.base_url, p.platform, p.dist_name, p.build_number, p.build_string
    FROM conda_env AS c,
        JSONB_TO_RECORDSET(c.conda_env) AS p (
            name TEXT, channel TEXT, version TEXT, base_url TEXT, platform TEXT,
            dist_name TEXT, build_number TEXT, build_string TEXT
        )
);
CREATE VIEW simulation_packages AS (
    SELECT s.visitseq_uuid, p.*
    FROM conda_packages AS p
    JOIN simulations AS s ON p.conda_env_hash = s.conda_env_sha256
);
CREATE VIEW maf_summary AS
    SELECT mms.metric_set, mms.maf_metric_name, v.visitseq_label,
        msm.day_obs, msm.accumulated, msm.summary_value,
        mms.short_name, mms.style, mms.invert, mms.mag, t.tag
    FROM maf_metric_sets AS mms
    JOIN maf_summary_metrics AS msm ON msm.maf_metric_name = mms.maf_metric_name
    JOIN tags AS t ON t.visitseq_uuid = msm.visitseq_uuid
    JOIN visitseq AS v ON msm.visitseq_uuid = v.visitseq_uuid;
"""

_OBJECTS_NEWEST_FIRST = (
    "VIEW maf_summary",
    "VIEW simulation_packages",
    "VIEW conda_packages",
    "VIEW simulations_extra",
    "TABLE maf_healpix_stats",
    "TABLE maf_metric_sets",
    "TABLE maf_summary_metrics",
    "TABLE maf_metrics",
    "TABLE nightly_stats",
    "TABLE conda_env",
    "TABLE files",
    "TABLE comments",
    "TABLE tags",
    "TABLE mixedvisitseq",
    "TABLE completed",
    "TABLE simulations",
    "TABLE visitseq",
)


def upgrade() -> None:
    for ddl in (_VISITSEQ_TABLES, _SIDE_TABLES, _MAF_TABLES, SIMULATIONS_EXTRA_REFERENCE, _OTHER_VIEWS):
        op.execute(ddl)


def downgrade() -> None:
    for kind_and_name in _OBJECTS_NEWEST_FIRST:
        op.execute(f"DROP {kind_and_name}")
