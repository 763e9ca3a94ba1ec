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
