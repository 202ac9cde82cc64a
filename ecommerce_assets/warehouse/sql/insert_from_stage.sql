INSERT INTO {target} ({columns}) SELECT {typed_columns} FROM {stage} AS s
