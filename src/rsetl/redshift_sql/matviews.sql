-- What Redshift reports about materialized views: STV_MV_INFO (is_stale, state) and
-- SVL_MV_REFRESH_STATUS (one row per REFRESH). Installed after privileges.sql by the superuser.
--
-- Staleness ("base tables have been updated but the materialized view hasn't been refreshed",
-- Redshift Database Developer Guide, STV_MV_INFO): every base table of a view records, per writing
-- transaction, its xid (a statement trigger); each REFRESH (and the CREATE that fills the view)
-- records the snapshot it read. A view is stale when a committed change to one of its base tables
-- is not visible in the snapshot of its last refresh. The snapshot is taken at ddl_command_start,
-- before the view's query runs, so a change committed meanwhile counts as unseen: a stale view is
-- never reported fresh.

CREATE TABLE IF NOT EXISTS rsetl_compat.mv_base_changes (
    relid oid NOT NULL,
    xid   xid8 NOT NULL
);
CREATE INDEX IF NOT EXISTS mv_base_changes_relid ON rsetl_compat.mv_base_changes (relid);

CREATE TABLE IF NOT EXISTS rsetl_compat.mv_refreshes (
    refresh_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mvid         oid NOT NULL,
    command      text NOT NULL,
    snapshot     pg_snapshot NOT NULL,
    xid          xid8 NOT NULL,
    userid       integer NOT NULL,
    starttime    timestamp NOT NULL,
    endtime      timestamp NOT NULL,
    status       text NOT NULL
);

-- Base tables of a materialized view: the relations its rewrite rule depends on.
CREATE OR REPLACE FUNCTION rsetl_compat.mv_base_relations(mv oid) RETURNS SETOF oid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT DISTINCT d.refobjid
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
        AND d.refclassid = 'pg_class'::regclass
    JOIN pg_class c ON c.oid = d.refobjid AND c.relkind IN ('r', 'p')
    WHERE r.ev_class = mv AND d.refobjid <> mv
$$;

-- STV_MV_INFO.state: 0 when Redshift recomputes the view on REFRESH, 1 when it refreshes it
-- incrementally. Only the constructs "Refreshing a materialized view" (Limitations for incremental
-- refresh) names without a change between its versions count: DISTINCT aggregates, outer joins,
-- set operations, window functions. They are read off PostgreSQL's own rendering of the query.
CREATE OR REPLACE FUNCTION rsetl_compat.mv_refresh_state(definition text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN definition ~* '\(\s*DISTINCT\M' THEN 0
        WHEN definition ~* '\m(LEFT|RIGHT|FULL)(\s+OUTER)?\s+JOIN\M' THEN 0
        WHEN definition ~* '\m(UNION|INTERSECT|EXCEPT)\M' THEN 0
        WHEN definition ~* '\mOVER\s*\(' THEN 0
        ELSE 1
    END
$$;

CREATE OR REPLACE FUNCTION rsetl_compat.mv_is_stale(mv oid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT CASE WHEN last.mvid IS NULL THEN true ELSE EXISTS (
        SELECT 1 FROM rsetl_compat.mv_base_changes ch
        WHERE ch.relid IN (SELECT rsetl_compat.mv_base_relations(mv))
          AND ch.xid <> last.xid
          AND NOT pg_visible_in_snapshot(ch.xid, last.snapshot)
    ) END
    FROM (SELECT mv AS wanted) w
    LEFT JOIN LATERAL (
        SELECT m.mvid, m.xid, m.snapshot FROM rsetl_compat.mv_refreshes m
        WHERE m.mvid = w.wanted ORDER BY m.refresh_id DESC LIMIT 1
    ) last ON true
$$;

CREATE OR REPLACE FUNCTION rsetl_compat.record_base_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO rsetl_compat.mv_base_changes (relid, xid) VALUES (TG_RELID, pg_current_xact_id());
    RETURN NULL;
END;
$$;

-- Before CREATE / REFRESH MATERIALIZED VIEW runs its query: the snapshot it will read (or an older one).
CREATE OR REPLACE FUNCTION rsetl_compat.mv_refresh_started() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    PERFORM set_config('rsetl.mv_snapshot', pg_current_snapshot()::text, true);
    PERFORM set_config('rsetl.mv_started', clock_timestamp()::timestamp::text, true);
END;
$$;

-- After it: its record, the view's base tables tracked, and (REFRESH) the status Redshift reports.
CREATE OR REPLACE FUNCTION rsetl_compat.mv_refresh_ended() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    done record;
    base oid;
    was_stale boolean;
BEGIN
    FOR done IN
        SELECT c.objid, c.command_tag FROM pg_event_trigger_ddl_commands() c
        JOIN pg_class v ON v.oid = c.objid AND v.relkind = 'm'
    LOOP
        -- At CREATE only: a trigger created at every REFRESH would lock out the loads meanwhile.
        FOR base IN
            SELECT b FROM rsetl_compat.mv_base_relations(done.objid) b
            WHERE done.command_tag = 'CREATE MATERIALIZED VIEW' AND NOT EXISTS (
                SELECT 1 FROM pg_trigger t WHERE t.tgrelid = b AND t.tgname = 'rsetl_mv_base_change')
        LOOP
            EXECUTE format(
                'CREATE OR REPLACE TRIGGER rsetl_mv_base_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE'
                ' ON %s FOR EACH STATEMENT EXECUTE FUNCTION rsetl_compat.record_base_change()',
                base::regclass
            );
        END LOOP;
        was_stale := rsetl_compat.mv_is_stale(done.objid);
        INSERT INTO rsetl_compat.mv_refreshes
            (mvid, command, snapshot, xid, userid, starttime, endtime, status)
        VALUES (
            done.objid, done.command_tag, current_setting('rsetl.mv_snapshot')::pg_snapshot,
            pg_current_xact_id(), (SELECT oid::integer FROM pg_roles WHERE rolname = session_user),
            current_setting('rsetl.mv_started')::timestamp, clock_timestamp()::timestamp,
            CASE
                WHEN done.command_tag <> 'REFRESH MATERIALIZED VIEW' THEN 'Created'
                WHEN NOT was_stale THEN 'MV was already updated'
                WHEN rsetl_compat.mv_refresh_state(pg_get_viewdef(done.objid)) = 1
                    THEN 'Refresh successfully updated MV incrementally'
                ELSE 'Refresh successfully recomputed MV from scratch'
            END
        );
    END LOOP;
END;
$$;

DROP EVENT TRIGGER IF EXISTS rsetl_mv_refresh_started;
CREATE EVENT TRIGGER rsetl_mv_refresh_started ON ddl_command_start
    WHEN TAG IN ('CREATE MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW')
    EXECUTE FUNCTION rsetl_compat.mv_refresh_started();
DROP EVENT TRIGGER IF EXISTS rsetl_mv_refresh_ended;
CREATE EVENT TRIGGER rsetl_mv_refresh_ended ON ddl_command_end
    WHEN TAG IN ('CREATE MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW')
    EXECUTE FUNCTION rsetl_compat.mv_refresh_ended();

-- STV_MV_INFO: superusers see every view, other users the views in schemas they may use.
CREATE OR REPLACE VIEW rsetl_compat.stv_mv_info AS
SELECT current_database()::char(128) AS db_name,
       n.nspname::char(128) AS schema,
       c.relname::char(128) AS name,
       (SELECT m.xid::text::bigint FROM rsetl_compat.mv_refreshes m
        WHERE m.mvid = c.oid ORDER BY m.refresh_id DESC LIMIT 1) AS updated_upto_xid,
       (CASE WHEN rsetl_compat.mv_is_stale(c.oid) THEN 't' ELSE 'f' END)::char(1) AS is_stale,
       pg_get_userbyid(c.relowner)::char(128) AS owner_user_name,
       rsetl_compat.mv_refresh_state(pg_get_viewdef(c.oid)) AS state,
       'f'::char(1) AS autorewrite,
       'f'::char(1) AS autorefresh
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'm'
  AND (has_schema_privilege(n.oid, 'USAGE')
       OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user));
GRANT SELECT ON rsetl_compat.stv_mv_info TO PUBLIC;

-- SVL_MV_REFRESH_STATUS: one row per REFRESH MATERIALIZED VIEW; refresh_type is Manual (AUTO
-- REFRESH YES is refused). Regular users see their own refreshes.
CREATE OR REPLACE VIEW rsetl_compat.svl_mv_refresh_status AS
SELECT current_database()::char(128) AS db_name,
       m.userid,
       n.nspname::char(128) AS schema_name,
       c.relname::char(128) AS mv_name,
       m.xid::text::bigint AS xid,
       m.starttime,
       m.endtime,
       m.status::char(128) AS status,
       'Manual'::char(32) AS refresh_type
FROM rsetl_compat.mv_refreshes m
JOIN pg_class c ON c.oid = m.mvid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE m.command = 'REFRESH MATERIALIZED VIEW'
  AND (m.userid = (SELECT oid::integer FROM pg_roles WHERE rolname = session_user)
       OR (SELECT rolsuper FROM pg_roles WHERE rolname = session_user));
GRANT SELECT ON rsetl_compat.svl_mv_refresh_status TO PUBLIC;
