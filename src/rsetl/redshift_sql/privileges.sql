-- Redshift's default privileges and its role catalogue, where PostgreSQL's differ.
-- Installed after compat.sql into every database, by the server's superuser.

-- Every user may create objects in schema public (PostgreSQL 15+ grants PUBLIC only USAGE).
GRANT CREATE, USAGE ON SCHEMA public TO PUBLIC;

-- The compat functions and system tables stand for Redshift built-ins every user can call and read;
-- COPY records its rejected rows as the loading user.
GRANT USAGE ON SCHEMA rsetl_compat TO PUBLIC;
GRANT SELECT, INSERT ON rsetl_compat.stl_load_errors TO PUBLIC;

-- SVV_ROLES: the database roles (CREATE ROLE); users are roles that can log in.
CREATE OR REPLACE VIEW rsetl_compat.svv_roles AS
SELECT r.oid::integer AS role_id,
       r.rolname::varchar(128) AS role_name,
       NULL::varchar(128) AS role_owner,
       NULL::varchar(128) AS external_id
FROM pg_roles r
WHERE NOT r.rolcanlogin AND r.rolname NOT LIKE 'pg\_%';
GRANT SELECT ON rsetl_compat.svv_roles TO PUBLIC;

-- Only the owner and superusers may call a new stored procedure (PostgreSQL grants EXECUTE on every
-- new routine to PUBLIC; Redshift does so for functions only). A procedure whose privileges were
-- never changed (proacl NULL) loses PUBLIC's EXECUTE; one replaced later keeps its grants.
CREATE OR REPLACE FUNCTION rsetl_compat.revoke_public_execute() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    created record;
BEGIN
    FOR created IN
        SELECT c.objid FROM pg_event_trigger_ddl_commands() c
        JOIN pg_proc p ON p.oid = c.objid
        WHERE c.object_type = 'procedure' AND p.proacl IS NULL
    LOOP
        EXECUTE format('REVOKE EXECUTE ON PROCEDURE %s FROM PUBLIC', created.objid::regprocedure);
    END LOOP;
END;
$$;
DROP EVENT TRIGGER IF EXISTS rsetl_procedures_not_public;
CREATE EVENT TRIGGER rsetl_procedures_not_public ON ddl_command_end
    WHEN TAG IN ('CREATE PROCEDURE')
    EXECUTE FUNCTION rsetl_compat.revoke_public_execute();

-- Only the owner of a materialized view can REFRESH it. PostgreSQL 17+ also lets holders of the
-- MAINTAIN privilege (part of ALL) refresh, vacuum and lock it; Redshift has no such privilege, so
-- a grant never leaves MAINTAIN with anyone but a relation's owner.
CREATE OR REPLACE FUNCTION rsetl_compat.revoke_maintain() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    granted record;
BEGIN
    FOR granted IN
        SELECT DISTINCT c.oid::regclass AS relation, a.grantee
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE a.privilege_type = 'MAINTAIN' AND a.grantee <> c.relowner
    LOOP
        EXECUTE format(
            'REVOKE MAINTAIN ON %s FROM %s', granted.relation,
            CASE WHEN granted.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(granted.grantee)) END
        );
    END LOOP;
END;
$$;
DROP EVENT TRIGGER IF EXISTS rsetl_refresh_by_owner_only;
CREATE EVENT TRIGGER rsetl_refresh_by_owner_only ON ddl_command_end
    WHEN TAG IN ('GRANT', 'CREATE TABLE', 'CREATE TABLE AS', 'CREATE MATERIALIZED VIEW', 'CREATE VIEW')
    EXECUTE FUNCTION rsetl_compat.revoke_maintain();
