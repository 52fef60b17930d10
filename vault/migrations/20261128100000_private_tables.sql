-- Keep the vault's tables out of reach of database clients other than the vault's own role.
--
-- On Supabase the `public` schema is served by the REST API, and the `anon` and
-- `authenticated` roles receive privileges on new tables by default: with the public anon key
-- anyone could read every ciphertext and update `user_id`, `auto_execute` or `egress_ip`.
-- Row-level security without any policy denies every row to roles that are neither the table's
-- owner nor BYPASSRLS (the vault connects as the owner or as Supabase's `service_role`), and the
-- revoked grants deny the table itself. Other tables holding account data (the worker's, the
-- server's) call the same function from their own migrations:
--
--     SELECT revoke_client_access('my_table');

CREATE OR REPLACE FUNCTION revoke_client_access(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    client_role text;
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', target);
    -- Supabase's API roles; absent on a plain Postgres server.
    FOREACH client_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = client_role) THEN
            EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', target, client_role);
        END IF;
    END LOOP;
END;
$$;

-- Functions are executable by PUBLIC by default (and by Supabase's API roles through default
-- privileges); this one is for migrations only.
REVOKE ALL ON FUNCTION revoke_client_access(regclass) FROM PUBLIC;
DO $$
DECLARE
    client_role text;
BEGIN
    FOREACH client_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = client_role) THEN
            EXECUTE format('REVOKE ALL ON FUNCTION revoke_client_access(regclass) FROM %I',
                           client_role);
        END IF;
    END LOOP;
END;
$$;

SELECT revoke_client_access('broker_accounts');
SELECT revoke_client_access('broker_sessions');
