-- Merges one product catalogue file from the session temp table products_batch into
-- sales.dim_product (type 1: the latest file wins per product_sku). Products missing from a
-- file are kept, because facts still reference them. Ledger protocol: etl.sp_claim_file and
-- etl.sp_record_loaded_file (sql/010_etl_procedures.sql).
CREATE OR REPLACE PROCEDURE sales.sp_merge_products(
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
    v_bad_price       BIGINT;
    v_duplicate_keys  BIGINT;
    v_problems        VARCHAR(4000);
    v_rows            BIGINT;
BEGIN
    v_source_key := 's3://' || p_bucket || '/' || p_object_key;
    CALL etl.sp_claim_file('ingest_products', p_bucket, p_object_key, p_etag, v_claimed);
    IF NOT v_claimed THEN
        RETURN;
    END IF;

    SELECT COUNT(*),
           NVL(SUM(CASE WHEN product_sku IS NULL OR product_name IS NULL OR category IS NULL
                        THEN 1 ELSE 0 END), 0),
           NVL(SUM(CASE WHEN list_price < 0 THEN 1 ELSE 0 END), 0)
    INTO v_batch_rows, v_null_keys, v_bad_price
    FROM products_batch;

    SELECT NVL(SUM(d.copies), 0) INTO v_duplicate_keys
    FROM (
        SELECT product_sku, COUNT(*) AS copies
        FROM products_batch
        WHERE product_sku IS NOT NULL
        GROUP BY product_sku
        HAVING COUNT(*) > 1
    ) d;

    v_problems := '';
    IF v_null_keys > 0 THEN
        v_problems := v_problems || CAST(v_null_keys AS VARCHAR)
            || ' row(s) with a null product_sku, product_name or category; ';
    END IF;
    IF v_bad_price > 0 THEN
        v_problems := v_problems || CAST(v_bad_price AS VARCHAR) || ' row(s) with a negative list_price; ';
    END IF;
    IF v_duplicate_keys > 0 THEN
        v_problems := v_problems || CAST(v_duplicate_keys AS VARCHAR)
            || ' row(s) sharing a product_sku with another row; ';
    END IF;
    IF v_problems <> '' THEN
        v_problems := RTRIM(v_problems, '; ');
        RAISE EXCEPTION 'products file % rejected (% rows): %', v_source_key, v_batch_rows, v_problems;
    END IF;

    DELETE FROM sales.dim_product
    USING products_batch b
    WHERE dim_product.product_sku = b.product_sku;

    INSERT INTO sales.dim_product (product_sku, product_name, category, list_price, source_key, updated_at)
    SELECT product_sku, TRIM(product_name), TRIM(category), list_price, v_source_key, GETDATE()
    FROM products_batch;
    GET DIAGNOSTICS v_rows := ROW_COUNT;

    CALL etl.sp_record_loaded_file('ingest_products', p_bucket, p_object_key, p_etag, p_execution_name, v_rows);
END;
$$ LANGUAGE plpgsql;
