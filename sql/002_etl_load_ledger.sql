-- The load ledger: one row per load attempt of one S3 object version.
-- At most one LOADED row exists per (bucket, object_key, etag); the merge procedures check it in
-- a transaction that locked etl.load_ledger as its first statement, which makes a redelivered
-- S3 event a no-op.
-- Redshift does not enforce PRIMARY KEY; it is declared for the planner and for readers.
CREATE TABLE IF NOT EXISTS etl.load_ledger (
    ledger_id       BIGINT IDENTITY(1, 1) NOT NULL ENCODE az64,
    bucket          VARCHAR(63)           NOT NULL ENCODE RAW,
    object_key      VARCHAR(1024)         NOT NULL ENCODE zstd,
    etag            VARCHAR(128)          NOT NULL ENCODE zstd,
    pipeline        VARCHAR(128)          NOT NULL ENCODE zstd,
    execution_name  VARCHAR(80)                    ENCODE zstd,
    status          VARCHAR(16)           NOT NULL ENCODE zstd,
    rows_loaded     BIGINT                         ENCODE az64,
    error_message   VARCHAR(65535)                 ENCODE zstd,
    recorded_at     TIMESTAMP             NOT NULL DEFAULT GETDATE() ENCODE az64,
    PRIMARY KEY (ledger_id)
)
DISTSTYLE ALL
COMPOUND SORTKEY (bucket, object_key);
