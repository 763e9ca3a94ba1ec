-- Merges one sales file from the session temp table sales_lines_batch into sales.fact_sales.
-- The caller runs, in one TRANSACTION-mode batch:
--   LOCK etl.load_ledger;
--   CREATE TEMP TABLE sales_lines_batch (LIKE staging.sales_lines);
--   COPY sales_lines_batch FROM 's3://bucket/key' IAM_ROLE '...' FORMAT AS CSV IGNOREHEADER 1 [GZIP];
--   CALL sales.sp_merge_sales_lines(:bucket, :object_key, :etag, :execution_name);
-- Exactly once: the LOCK comes first because a Redshift transaction's snapshot is taken at its
-- first SELECT, DML or CREATE TABLE, not at LOCK. Two deliveries of the same object version
-- serialize on the lock, the second's snapshot starts after the first committed, so it sees
-- the first one's LOADED row and changes nothing. (A LOCK here, after the COPY, would come after
-- the snapshot: under SNAPSHOT isolation the second delivery would load the file again, under
-- SERIALIZABLE two loads of different files would fail with error 1023.) The ledger protocol
-- (claim the file, record it LOADED) is etl.sp_claim_file and etl.sp_record_loaded_file (sql/010).
-- A batch (ingest_sales_batch) repeats COPY + CALL per file in the same transaction: the procedure
-- empties sales_lines_batch when it returns (DELETE: a TRUNCATE would commit the transaction), so the
-- next file's COPY starts from an empty table, and a file repeated in the batch is skipped by the claim.
CREATE OR REPLACE PROCEDURE sales.sp_merge_sales_lines(
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
    v_bad_quantity    BIGINT;
    v_bad_price       BIGINT;
    v_bad_discount    BIGINT;
    v_bad_currency    BIGINT;
    v_sample_currency VARCHAR(3);
    v_duplicate_keys  BIGINT;
    v_problems        VARCHAR(4000);
    v_rows            BIGINT;
BEGIN
    v_source_key := 's3://' || p_bucket || '/' || p_object_key;
    CALL etl.sp_claim_file('ingest_sales', p_bucket, p_object_key, p_etag, v_claimed);
    IF NOT v_claimed THEN
        DELETE FROM sales_lines_batch;
        RETURN;
    END IF;

    SELECT COUNT(*),
           NVL(SUM(CASE WHEN order_id IS NULL OR line_number IS NULL OR order_ts IS NULL
                          OR store_id IS NULL OR product_sku IS NULL OR quantity IS NULL
                          OR unit_price IS NULL OR currency IS NULL
                        THEN 1 ELSE 0 END), 0),
           NVL(SUM(CASE WHEN quantity <= 0 THEN 1 ELSE 0 END), 0),
           NVL(SUM(CASE WHEN unit_price < 0 THEN 1 ELSE 0 END), 0),
           NVL(SUM(CASE WHEN discount < 0 OR discount > quantity * unit_price THEN 1 ELSE 0 END), 0)
    INTO v_batch_rows, v_null_keys, v_bad_quantity, v_bad_price, v_bad_discount
    FROM sales_lines_batch;

    SELECT COUNT(*), MIN(b.currency) INTO v_bad_currency, v_sample_currency
    FROM sales_lines_batch b
    LEFT JOIN sales.dim_currency c ON c.currency_code = b.currency
    WHERE b.currency IS NOT NULL AND c.currency_code IS NULL;

    SELECT NVL(SUM(d.copies), 0) INTO v_duplicate_keys
    FROM (
        SELECT order_id, line_number, COUNT(*) AS copies
        FROM sales_lines_batch
        WHERE order_id IS NOT NULL AND line_number IS NOT NULL
        GROUP BY order_id, line_number
        HAVING COUNT(*) > 1
    ) d;

    v_problems := '';
    IF v_null_keys > 0 THEN
        v_problems := v_problems || CAST(v_null_keys AS VARCHAR)
            || ' row(s) with a null order_id, line_number, order_ts, store_id, product_sku, quantity, unit_price or currency; ';
    END IF;
    IF v_bad_quantity > 0 THEN
        v_problems := v_problems || CAST(v_bad_quantity AS VARCHAR) || ' row(s) with a zero or negative quantity; ';
    END IF;
    IF v_bad_price > 0 THEN
        v_problems := v_problems || CAST(v_bad_price AS VARCHAR) || ' row(s) with a negative unit_price; ';
    END IF;
    IF v_bad_discount > 0 THEN
        v_problems := v_problems || CAST(v_bad_discount AS VARCHAR)
            || ' row(s) with a discount below zero or above quantity * unit_price; ';
    END IF;
    IF v_bad_currency > 0 THEN
        v_problems := v_problems || CAST(v_bad_currency AS VARCHAR)
            || ' row(s) with an unknown currency (e.g. ' || v_sample_currency || '); ';
    END IF;
    IF v_duplicate_keys > 0 THEN
        v_problems := v_problems || CAST(v_duplicate_keys AS VARCHAR)
            || ' row(s) sharing an (order_id, line_number) with another row; ';
    END IF;
    IF v_problems <> '' THEN
        v_problems := RTRIM(v_problems, '; ');
        RAISE EXCEPTION 'sales file % rejected (% rows): %', v_source_key, v_batch_rows, v_problems;
    END IF;

    -- A new version of the same key (new etag) replaces everything the old version loaded.
    DELETE FROM sales.fact_sales WHERE source_key = v_source_key;
    DELETE FROM sales.fact_sales
    USING sales_lines_batch b
    WHERE fact_sales.order_id = b.order_id AND fact_sales.line_number = b.line_number;

    INSERT INTO sales.fact_sales
        (order_id, line_number, order_ts, order_date, store_id, product_sku, customer_id,
         quantity, unit_price, discount, currency, net_amount, source_key, loaded_at)
    SELECT order_id, line_number, order_ts, TRUNC(order_ts), store_id, product_sku,
           NULLIF(TRIM(customer_id), ''),
           quantity, unit_price, NVL(discount, 0), currency,
           quantity * unit_price - NVL(discount, 0), v_source_key, GETDATE()
    FROM sales_lines_batch;
    GET DIAGNOSTICS v_rows := ROW_COUNT;
    DELETE FROM sales_lines_batch;

    CALL etl.sp_record_loaded_file('ingest_sales', p_bucket, p_object_key, p_etag, p_execution_name, v_rows);
END;
$$ LANGUAGE plpgsql;
