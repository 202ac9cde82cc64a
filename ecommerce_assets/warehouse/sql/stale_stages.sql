-- Stages of a table left behind by loads that died before their merge (their names start with the table's).
SELECT c.relname
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = 'staging' AND c.relkind = 'r' AND starts_with(c.relname, %(prefix)s)
