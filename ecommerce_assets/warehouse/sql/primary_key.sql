SELECT a.attname
FROM pg_index AS i
JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = to_regclass(%(qualified_name)s) AND i.indisprimary
ORDER BY array_position(i.indkey, a.attnum)
