-- Least privilege for BI: the group role bi_reader (sql/roles/bi_reader.sql, ensured before migrating)
-- may read the marts (dm) and nothing else; BI logins (Metabase) are made members of it by
-- `ecommerce-deploy init-warehouse`.
REVOKE ALL ON SCHEMA ods, staging, meta FROM PUBLIC;
GRANT USAGE ON SCHEMA dm TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA dm TO bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA dm GRANT SELECT ON TABLES TO bi_reader;
