-- A table shaped like the partitioned target (columns, defaults, NOT NULL and CHECK constraints) to hold
-- one day and become its partition. Its CHECK proves the partition bound, so attaching it scans nothing.
CREATE TABLE {day_table} (LIKE {target} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE {day_table} ADD CONSTRAINT {bound_name} CHECK ({partition_column} = {day})
