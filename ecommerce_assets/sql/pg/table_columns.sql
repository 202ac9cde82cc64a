SELECT c.column_name, c.data_type, c.numeric_precision, c.numeric_scale, c.column_default IS NOT NULL,
       format_type(a.atttypid, a.atttypmod)
FROM information_schema.columns AS c
JOIN pg_attribute AS a
  ON a.attrelid = to_regclass(quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))
 AND a.attname = c.column_name
WHERE c.table_schema = %(schema)s AND c.table_name = %(table)s
ORDER BY c.ordinal_position
