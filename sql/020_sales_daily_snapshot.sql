-- Nightly: rebuilds reporting.daily_sales_snapshot for one business date (store grain).
-- Idempotent: the date is deleted and rebuilt in the caller's transaction, so a rerun or a
-- backfill of any date gives the same rows. Facts of stores not (yet) in dim_store are kept
-- under region 'UNKNOWN' rather than dropped, so the snapshot always totals the fact.
-- The Data API passes :business_date as a string ('YYYY-MM-DD'); it is cast to DATE on call.
CREATE OR REPLACE PROCEDURE sales.sp_build_daily_snapshot(p_business_date DATE)
AS $$
DECLARE
    v_rows  BIGINT;
BEGIN
    IF p_business_date IS NULL THEN
        RAISE EXCEPTION 'sp_build_daily_snapshot: business_date is required';
    END IF;

    DELETE FROM reporting.daily_sales_snapshot WHERE business_date = p_business_date;

    INSERT INTO reporting.daily_sales_snapshot
        (business_date, store_id, region, orders, lines, units, customers,
         gross_amount, discount_amount, net_amount, built_at)
    SELECT f.order_date,
           f.store_id,
           NVL(s.region, 'UNKNOWN'),
           COUNT(DISTINCT f.order_id),
           COUNT(*),
           SUM(f.quantity),
           COUNT(DISTINCT f.customer_id),
           SUM(f.quantity * f.unit_price),
           SUM(f.discount),
           SUM(f.net_amount),
           GETDATE()
    FROM sales.fact_sales f
    LEFT JOIN sales.dim_store s ON s.store_id = f.store_id
    WHERE f.order_date = p_business_date
    GROUP BY f.order_date, f.store_id, NVL(s.region, 'UNKNOWN');
    GET DIAGNOSTICS v_rows := ROW_COUNT;

    RAISE INFO 'sp_build_daily_snapshot: % store rows for %', v_rows, p_business_date;
END;
$$ LANGUAGE plpgsql;
