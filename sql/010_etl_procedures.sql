-- The ledger protocol of the merge procedures (sql/011-013), written once. A merge runs in a
-- TRANSACTION batch that locked etl.load_ledger as its first statement, then:
--   CALL etl.sp_claim_file(<pipeline>, bucket, key, etag, v_claimed);  -- first: before any write
--   IF NOT v_claimed THEN RETURN; END IF;                              -- already LOADED: no-op
--   ... validate and merge ...
--   CALL etl.sp_record_loaded_file(<pipeline>, bucket, key, etag, execution_name, v_rows);
-- Both run in the caller's transaction, so the LOADED row commits with the data or not at all.
-- p_claimed is INOUT: a nested call returns its output only through INOUT arguments (Amazon
-- Redshift, "CALL", Nested calls, https://docs.aws.amazon.com/redshift/latest/dg/r_CALL_procedure.html).
CREATE OR REPLACE PROCEDURE etl.sp_claim_file(
    p_pipeline        VARCHAR(128),
    p_bucket          VARCHAR(63),
    p_object_key      VARCHAR(1024),
    p_etag            VARCHAR(128),
    INOUT p_claimed   BOOLEAN
)
AS $$
DECLARE
    v_already_loaded  BIGINT;
BEGIN
    IF p_bucket IS NULL OR p_object_key IS NULL OR p_etag IS NULL THEN
        RAISE EXCEPTION '%: bucket, object_key and etag are required', p_pipeline;
    END IF;
    SELECT COUNT(*) INTO v_already_loaded
    FROM etl.load_ledger
    WHERE bucket = p_bucket AND object_key = p_object_key AND etag = REPLACE(p_etag, '"', '')
      AND status = 'LOADED';
    p_claimed := v_already_loaded = 0;
    IF NOT p_claimed THEN
        RAISE INFO '%: s3://%/% (etag %) is already loaded; duplicate delivery ignored',
            p_pipeline, p_bucket, p_object_key, REPLACE(p_etag, '"', '');
    END IF;
END;
$$ LANGUAGE plpgsql;

-- Records the LOADED row of a file the caller claimed and merged (see etl.sp_claim_file).
CREATE OR REPLACE PROCEDURE etl.sp_record_loaded_file(
    p_pipeline        VARCHAR(128),
    p_bucket          VARCHAR(63),
    p_object_key      VARCHAR(1024),
    p_etag            VARCHAR(128),
    p_execution_name  VARCHAR(80),
    p_rows            BIGINT
)
AS $$
BEGIN
    INSERT INTO etl.load_ledger
        (bucket, object_key, etag, pipeline, execution_name, status, rows_loaded, error_message, recorded_at)
    VALUES
        (p_bucket, p_object_key, REPLACE(p_etag, '"', ''), p_pipeline, p_execution_name, 'LOADED', p_rows,
         NULL, GETDATE());
    RAISE INFO '%: loaded % rows from s3://%/%', p_pipeline, p_rows, p_bucket, p_object_key;
END;
$$ LANGUAGE plpgsql;

-- Records a failed load attempt. Called by the pipeline after the load transaction rolled back,
-- so the FAILED row survives the rollback. The ETag is stored without quotes, as S3 events send it.
-- The message is cut to 16,000 characters: at most 64,000 bytes, within VARCHAR(65535).
CREATE OR REPLACE PROCEDURE etl.sp_record_failed_load(
    p_bucket          VARCHAR(63),
    p_object_key      VARCHAR(1024),
    p_etag            VARCHAR(128),
    p_pipeline        VARCHAR(128),
    p_execution_name  VARCHAR(80),
    p_error_message   VARCHAR(65535)
)
AS $$
BEGIN
    IF p_bucket IS NULL OR p_object_key IS NULL OR p_etag IS NULL OR p_pipeline IS NULL THEN
        RAISE EXCEPTION 'sp_record_failed_load: bucket, object_key, etag and pipeline are required';
    END IF;

    INSERT INTO etl.load_ledger
        (bucket, object_key, etag, pipeline, execution_name, status, rows_loaded, error_message, recorded_at)
    VALUES
        (p_bucket, p_object_key, REPLACE(p_etag, '"', ''), p_pipeline, p_execution_name, 'FAILED', 0,
         LEFT(NVL(p_error_message, 'unknown error'), 16000), GETDATE());
END;
$$ LANGUAGE plpgsql;

-- Records that an ingest run found its object version superseded: the key was overwritten or
-- deleted before the run could snapshot the version its event named, so nothing was loaded for
-- it (the newer version's own event loads that one).
CREATE OR REPLACE PROCEDURE etl.sp_record_superseded_load(
    p_bucket          VARCHAR(63),
    p_object_key      VARCHAR(1024),
    p_etag            VARCHAR(128),
    p_pipeline        VARCHAR(128),
    p_execution_name  VARCHAR(80),
    p_reason          VARCHAR(65535)
)
AS $$
BEGIN
    IF p_bucket IS NULL OR p_object_key IS NULL OR p_etag IS NULL OR p_pipeline IS NULL THEN
        RAISE EXCEPTION 'sp_record_superseded_load: bucket, object_key, etag and pipeline are required';
    END IF;

    INSERT INTO etl.load_ledger
        (bucket, object_key, etag, pipeline, execution_name, status, rows_loaded, error_message, recorded_at)
    VALUES
        (p_bucket, p_object_key, REPLACE(p_etag, '"', ''), p_pipeline, p_execution_name, 'SUPERSEDED', 0,
         LEFT(NVL(p_reason, 'superseded'), 16000), GETDATE());
END;
$$ LANGUAGE plpgsql;
