-- The columns of one table in order, from the system catalog: name, type as information_schema names it,
-- a numeric's precision and scale, whether it has a default, and its full SQL type. (information_schema's
-- columns view reads every table's columns, a cost that grows with the number of day partitions.)
SELECT a.attname,
       format_type(a.atttypid, NULL),
       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod >= 4 THEN ((a.atttypmod - 4) >> 16) & 65535 END,
       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod >= 4 THEN (a.atttypmod - 4) & 65535 END,
       a.atthasdef,
       format_type(a.atttypid, a.atttypmod)
FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(quote_ident(%(schema)s) || '.' || quote_ident(%(table)s))
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attnum
