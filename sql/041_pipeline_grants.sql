-- What the pipelines' database users may do, held by the roles of 040_pipeline_roles.sql.
-- A new user has only PUBLIC's privileges: TEMP on the database (the ingests' temporary batch
-- tables), USAGE and CREATE on schema public, EXECUTE on functions. Procedures are callable only
-- by their owner and superusers until EXECUTE is granted; the merge and build procedures run with
-- the caller's privileges (SECURITY INVOKER), so the role also needs the tables they touch.

GRANT USAGE ON SCHEMA etl, staging, sales, reporting TO ROLE rsetl_pipeline;

-- Ingests: CREATE TEMP TABLE ... (LIKE staging.<layout>) reads the layout's definition.
GRANT SELECT ON ALL TABLES IN SCHEMA staging TO ROLE rsetl_pipeline;

-- Merges: LOCK etl.load_ledger (a LOCK needs a write privilege), check and append the ledger,
-- replace rows of the facts and dimensions.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE etl.load_ledger TO ROLE rsetl_pipeline;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sales TO ROLE rsetl_pipeline;

-- Nightly snapshot and segments: replace one business date; the snapshot check reads it back.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE reporting.daily_sales_snapshot, reporting.customer_segments
    TO ROLE rsetl_pipeline;

GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA sales TO ROLE rsetl_pipeline;
-- The merges' ledger protocol (010_etl_procedures.sql): a nested CALL needs EXECUTE as well.
GRANT EXECUTE ON PROCEDURE etl.sp_claim_file(VARCHAR, VARCHAR, VARCHAR, VARCHAR, BOOLEAN) TO ROLE rsetl_pipeline;
GRANT EXECUTE ON PROCEDURE etl.sp_record_loaded_file(VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, BIGINT)
    TO ROLE rsetl_pipeline;
-- An ingest whose object version was overwritten before its run records it as SUPERSEDED.
GRANT EXECUTE ON PROCEDURE etl.sp_record_superseded_load(VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR)
    TO ROLE rsetl_pipeline;
GRANT EXECUTE ON PROCEDURE reporting.sp_load_customer_segments(DATE) TO ROLE rsetl_pipeline;

-- View refreshes run as the views' owner (SECURITY DEFINER, 030_reporting_materialized_views.sql).
GRANT EXECUTE ON PROCEDURE reporting.sp_refresh_mv_daily_store_sales() TO ROLE rsetl_pipeline;
GRANT EXECUTE ON PROCEDURE reporting.sp_refresh_mv_category_sales() TO ROLE rsetl_pipeline;

-- Quarantine: one FAILED ledger row per failed load, through etl.sp_record_failed_load.
GRANT USAGE ON SCHEMA etl TO ROLE rsetl_quarantine;
GRANT INSERT ON TABLE etl.load_ledger TO ROLE rsetl_quarantine;
GRANT EXECUTE ON PROCEDURE etl.sp_record_failed_load(VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR)
    TO ROLE rsetl_quarantine;
