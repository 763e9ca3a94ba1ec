-- Database roles that hold what the pipelines may do (granted in 041_pipeline_grants.sql):
--   rsetl_pipeline    the RunPipeline steps (the StatementRole's database user)
--   rsetl_quarantine  the QuarantineFile function: records FAILED loads in etl.load_ledger
-- Redshift roles belong to the whole cluster or namespace, and CREATE ROLE has no IF NOT EXISTS,
-- so a procedure creates each one that is missing and this file can be applied again.
-- How database users get these roles: docs/aws.md, "Database users and grants".
CREATE OR REPLACE PROCEDURE etl.sp_create_role_if_missing(p_role_name VARCHAR(127))
AS $$
DECLARE
    v_existing INTEGER;
BEGIN
    SELECT COUNT(*) INTO v_existing FROM svv_roles WHERE role_name = p_role_name;
    IF v_existing = 0 THEN
        EXECUTE 'CREATE ROLE ' || QUOTE_IDENT(p_role_name);
    END IF;
END;
$$ LANGUAGE plpgsql;

CALL etl.sp_create_role_if_missing('rsetl_pipeline');
CALL etl.sp_create_role_if_missing('rsetl_quarantine');
