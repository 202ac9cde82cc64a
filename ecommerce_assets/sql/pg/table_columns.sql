SELECT c.column_name, c.data_type, c.numeric_precision, c.numeric_scale, c.column_default IS NOT NULL
FROM information_schema.columns AS c
WHERE c.table_schema = %(schema)s AND c.table_name = %(table)s
ORDER BY c.ordinal_position
