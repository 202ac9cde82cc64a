-- Least privilege for BI: the group role bi_reader may read the marts (dm) and nothing else; logins
-- for BI tools (Metabase) are made members of it by `ecommerce-deploy init-warehouse`.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bi_reader') THEN
        CREATE ROLE bi_reader NOLOGIN;
    END IF;
END
$$;
REVOKE ALL ON SCHEMA ods, staging, meta FROM PUBLIC;
GRANT USAGE ON SCHEMA dm TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA dm TO bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA dm GRANT SELECT ON TABLES TO bi_reader;
