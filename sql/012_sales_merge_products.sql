-- Merges one product catalogue file from the session temp table products_batch into
-- sales.dim_product (type 1: the latest file wins per product_sku). Products missing from a
-- file are kept, because facts still reference them. Same ledger protocol as
-- sales.sp_merge_sales_lines.
CREATE OR REPLACE PROCEDURE sales.sp_merge_products(
    p_bucket          VARCHAR(63),
    p_object_key      VARCHAR(1024),
    p_etag            VARCHAR(128),
    p_execution_name  VARCHAR(80)
)
AS $$
DECLARE
    v_etag            VARCHAR(128);
    v_source_key      VARCHAR(1100);
    v_already_loaded  BIGINT;
    v_batch_rows      BIGINT;
    v_null_keys       BIGINT;
    v_bad_price       BIGINT;
    v_duplicate_keys  BIGINT;
    v_problems        VARCHAR(4000);
    v_rows            BIGINT;
BEGIN
    IF p_bucket IS NULL OR p_object_key IS NULL OR p_etag IS NULL THEN
        RAISE EXCEPTION 'sp_merge_products: bucket, object_key and etag are required';
    END IF;
    v_etag := REPLACE(p_etag, '"', '');
    v_source_key := 's3://' || p_bucket || '/' || p_object_key;

    SELECT COUNT(*) INTO v_already_loaded
    FROM etl.load_ledger
    WHERE bucket = p_bucket AND object_key = p_object_key AND etag = v_etag AND status = 'LOADED';
    IF v_already_loaded > 0 THEN
        RAISE INFO 'sp_merge_products: % (etag %) is already loaded; duplicate delivery ignored',
            v_source_key, v_etag;
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

    INSERT INTO etl.load_ledger
        (bucket, object_key, etag, pipeline, execution_name, status, rows_loaded, error_message, recorded_at)
    VALUES
        (p_bucket, p_object_key, v_etag, 'ingest_products', p_execution_name, 'LOADED', v_rows, NULL, GETDATE());
    RAISE INFO 'sp_merge_products: loaded % rows from %', v_rows, v_source_key;
END;
$$ LANGUAGE plpgsql;
