DELETE FROM {target} WHERE {partition_column} = %(partition)s
