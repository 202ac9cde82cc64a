SELECT EXISTS (SELECT 1 FROM {target} WHERE {partition_column} = %(partition)s)
