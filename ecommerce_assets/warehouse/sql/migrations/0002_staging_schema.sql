-- Where bulk loads land (unlogged tables, one per load) before one transaction merges them into the
-- warehouse tables and drops them.
CREATE SCHEMA IF NOT EXISTS staging;
