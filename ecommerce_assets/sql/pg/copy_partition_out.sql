COPY (
    SELECT {columns} FROM {target}
    WHERE {partition_column} = {partition}
    ORDER BY {order_by}
) TO STDOUT (FORMAT csv)
