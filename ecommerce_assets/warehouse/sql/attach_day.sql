-- The staged day becomes the target's partition for the day (any stored one was dropped just before).
ALTER TABLE {day_table} SET SCHEMA {schema};
ALTER TABLE {moved} RENAME TO {partition_name};
ALTER TABLE {target} ATTACH PARTITION {partition} FOR VALUES IN ({day})
