-- The kind of a relation (pg_class.relkind): 'r' a table, 'p' a partitioned table; no row when absent.
SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%(qualified_name)s)
