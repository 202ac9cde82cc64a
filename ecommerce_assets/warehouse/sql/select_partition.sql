-- One partition of a table, in key order. Parameter $1: the partition's date (ADBC placeholder).
SELECT {columns} FROM {target}
WHERE {partition_column} = CAST($1 AS date)
ORDER BY {order_by}
