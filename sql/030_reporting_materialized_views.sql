-- Materialized views over the facts and dimensions. AUTO REFRESH NO: the refresh_sales_views
-- pipeline refreshes them at most once per refresh window after successful ingests (docs/aws.md,
-- "Coalesced view refreshes"), so refreshes follow loads instead of Redshift's background schedule.
-- Both are recomputed whole on REFRESH: their COUNT(DISTINCT ...) is a DISTINCT aggregate, which
-- Redshift does not refresh incrementally (docs/sql.md says why the views keep it). Dropped and recreated so that re-applying this file picks up a
-- changed definition (a REFRESH rebuilds the contents).
--
-- Only the owner of a materialized view can REFRESH it. The views belong to the user who applies
-- sql/ (the deployer); the pipeline's database user (DbUser, IAMR:<role>, or the secret's user)
-- is another user. So each view has a SECURITY DEFINER procedure, owned by the views' owner, that
-- refreshes that one view and nothing else; sql/041_pipeline_grants.sql grants EXECUTE on it to
-- the rsetl_pipeline role only (a new procedure is callable by its owner and superusers alone).
-- A procedure skips the REFRESH when STV_MV_INFO says no base table changed since the last one
-- (is_stale 'f'); any other value ('t', or 'u' when Redshift does not know) refreshes.

DROP MATERIALIZED VIEW IF EXISTS reporting.mv_daily_store_sales;
CREATE MATERIALIZED VIEW reporting.mv_daily_store_sales
BACKUP NO
DISTSTYLE ALL
SORTKEY (order_date, store_id)
AUTO REFRESH NO
AS
SELECT f.order_date,
       f.store_id,
       s.store_name,
       s.city,
       s.region,
       COUNT(DISTINCT f.order_id) AS orders,
       COUNT(*) AS lines,
       SUM(f.quantity) AS units,
       SUM(f.discount) AS discount_amount,
       SUM(f.net_amount) AS net_amount
FROM sales.fact_sales f
JOIN sales.dim_store s ON s.store_id = f.store_id
GROUP BY f.order_date, f.store_id, s.store_name, s.city, s.region;

DROP MATERIALIZED VIEW IF EXISTS reporting.mv_category_sales;
CREATE MATERIALIZED VIEW reporting.mv_category_sales
BACKUP NO
DISTSTYLE ALL
SORTKEY (order_date, category)
AUTO REFRESH NO
AS
SELECT f.order_date,
       p.category,
       COUNT(DISTINCT f.product_sku) AS products_sold,
       COUNT(*) AS lines,
       SUM(f.quantity) AS units,
       SUM(f.net_amount) AS net_amount
FROM sales.fact_sales f
JOIN sales.dim_product p ON p.product_sku = f.product_sku
GROUP BY f.order_date, p.category;

CREATE OR REPLACE PROCEDURE reporting.sp_refresh_mv_daily_store_sales()
AS $$
DECLARE
    v_stale CHAR(1);
BEGIN
    SELECT is_stale INTO v_stale FROM stv_mv_info WHERE schema = 'reporting' AND name = 'mv_daily_store_sales';
    IF v_stale = 'f' THEN
        RAISE INFO 'reporting.mv_daily_store_sales is up to date: refresh skipped';
        RETURN;
    END IF;
    REFRESH MATERIALIZED VIEW reporting.mv_daily_store_sales;
END;
$$ LANGUAGE plpgsql
SECURITY DEFINER;

CREATE OR REPLACE PROCEDURE reporting.sp_refresh_mv_category_sales()
AS $$
DECLARE
    v_stale CHAR(1);
BEGIN
    SELECT is_stale INTO v_stale FROM stv_mv_info WHERE schema = 'reporting' AND name = 'mv_category_sales';
    IF v_stale = 'f' THEN
        RAISE INFO 'reporting.mv_category_sales is up to date: refresh skipped';
        RETURN;
    END IF;
    REFRESH MATERIALIZED VIEW reporting.mv_category_sales;
END;
$$ LANGUAGE plpgsql
SECURITY DEFINER;
