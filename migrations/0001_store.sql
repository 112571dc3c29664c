-- kafkascope storage engine schema. See src/store/mod.rs for the design.

-- Series registry: one row per series; loaded into memory at open.
CREATE TABLE series (
    id      INTEGER PRIMARY KEY,
    metric  TEXT    NOT NULL,
    labels  TEXT    NOT NULL,          -- canonical sorted form, Labels::canonical()
    kind    INTEGER NOT NULL,          -- MetricKind::code()
    UNIQUE (metric, labels)
);

-- Write-ahead log of the in-memory head: one encoded BLOB per append call (rowid table: BLOBs in
-- WITHOUT ROWID tables waste half of each page). Replayed at open; rows whose samples are all
-- below the compaction watermark are deleted when their block is compacted.
CREATE TABLE head_log (
    id      INTEGER PRIMARY KEY,
    max_ts  INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    data    BLOB    NOT NULL
);
CREATE INDEX head_log_max_ts ON head_log (max_ts);

-- Compressed chunks of every tier (0 raw, 1 = 1m, 2 = 5m, 3 = 1h, 4 = 1d). start_ts is the aligned
-- start of the span the chunk covers (block, day or 28-day span), so rewriting a span is an
-- idempotent INSERT OR REPLACE. Rowid table on purpose (see above).
CREATE TABLE chunk (
    series_id INTEGER NOT NULL,
    tier      INTEGER NOT NULL,
    start_ts  INTEGER NOT NULL,
    end_ts    INTEGER NOT NULL,        -- timestamp of the last sample or bucket in the chunk
    n         INTEGER NOT NULL,        -- samples or buckets
    data      BLOB    NOT NULL,
    UNIQUE (series_id, tier, start_ts)
);
-- Retention drops whole chunks by age per tier.
CREATE INDEX chunk_tier_end ON chunk (tier, end_ts);

-- Newest compacted sample of every series as of a compacted block (for `latest`, and for counter
-- increases across block boundaries), in parts of 65536 series ids.
CREATE TABLE series_state (
    block_start INTEGER NOT NULL,
    part        INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    PRIMARY KEY (block_start, part)
);

-- Engine watermarks (compacted-up-to, merged-up-to per level).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    cluster  TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    message  TEXT    NOT NULL
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_cluster_ts ON events (cluster, ts);

CREATE TABLE documents (
    cluster TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    ts      INTEGER NOT NULL,
    body    TEXT    NOT NULL,
    PRIMARY KEY (cluster, subject, name)
);
