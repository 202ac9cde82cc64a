-- The group role of BI logins (migration 0003 grants it read access to dm). Made before the migrations
-- run: by a superuser in `ecommerce-deploy init-warehouse`, so the pipeline login needs no CREATEROLE.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bi_reader') THEN
        CREATE ROLE bi_reader NOLOGIN;
    END IF;
END
$$
