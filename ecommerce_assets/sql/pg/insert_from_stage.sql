INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}
