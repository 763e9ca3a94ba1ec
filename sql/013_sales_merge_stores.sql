-- Merges one store master file from the session temp table stores_batch into sales.dim_store
-- (type 1: the latest file wins per store_id). Stores missing from a file are kept, because
-- facts still reference them. Ledger protocol: etl.sp_claim_file and etl.sp_record_loaded_file.
CREATE OR REPLACE PROCEDURE sales.sp_merge_stores(
    p_bucket          VARCHAR(63),
    p_object_key      VARCHAR(1024),
    p_etag            VARCHAR(128),
    p_execution_name  VARCHAR(80)
)
AS $$
DECLARE
    v_source_key      VARCHAR(1100);
    v_claimed         BOOLEAN;
    v_batch_rows      BIGINT;
    v_null_keys       BIGINT;
    v_future_opening  BIGINT;
    v_duplicate_keys  BIGINT;
    v_problems        VARCHAR(4000);
    v_rows            BIGINT;
BEGIN
    v_source_key := 's3://' || p_bucket || '/' || p_object_key;
    CALL etl.sp_claim_file('ingest_stores', p_bucket, p_object_key, p_etag, v_claimed);
    IF NOT v_claimed THEN
        RETURN;
    END IF;

    SELECT COUNT(*),
           NVL(SUM(CASE WHEN store_id IS NULL OR store_name IS NULL OR region IS NULL
                        THEN 1 ELSE 0 END), 0),
           NVL(SUM(CASE WHEN opened_on > DATEADD(year, 1, GETDATE()) THEN 1 ELSE 0 END), 0)
    INTO v_batch_rows, v_null_keys, v_future_opening
    FROM stores_batch;

    SELECT NVL(SUM(d.copies), 0) INTO v_duplicate_keys
    FROM (
        SELECT store_id, COUNT(*) AS copies
        FROM stores_batch
        WHERE store_id IS NOT NULL
        GROUP BY store_id
        HAVING COUNT(*) > 1
    ) d;

    v_problems := '';
    IF v_null_keys > 0 THEN
        v_problems := v_problems || CAST(v_null_keys AS VARCHAR)
            || ' row(s) with a null store_id, store_name or region; ';
    END IF;
    IF v_future_opening > 0 THEN
        v_problems := v_problems || CAST(v_future_opening AS VARCHAR)
            || ' row(s) with an opened_on more than a year in the future; ';
    END IF;
    IF v_duplicate_keys > 0 THEN
        v_problems := v_problems || CAST(v_duplicate_keys AS VARCHAR)
            || ' row(s) sharing a store_id with another row; ';
    END IF;
    IF v_problems <> '' THEN
        v_problems := RTRIM(v_problems, '; ');
        RAISE EXCEPTION 'stores file % rejected (% rows): %', v_source_key, v_batch_rows, v_problems;
    END IF;

    DELETE FROM sales.dim_store
    USING stores_batch b
    WHERE dim_store.store_id = b.store_id;

    INSERT INTO sales.dim_store (store_id, store_name, city, region, opened_on, source_key, updated_at)
    SELECT store_id, TRIM(store_name), TRIM(city), UPPER(TRIM(region)), opened_on, v_source_key, GETDATE()
    FROM stores_batch;
    GET DIAGNOSTICS v_rows := ROW_COUNT;

    CALL etl.sp_record_loaded_file('ingest_stores', p_bucket, p_object_key, p_etag, p_execution_name, v_rows);
END;
$$ LANGUAGE plpgsql;
