-- The partition's share of the target's primary key, built in bulk before attaching (attaching then
-- adopts it instead of building it under the lock), and the day's statistics for the planner.
ALTER TABLE {day_table} ADD CONSTRAINT {pkey_name} PRIMARY KEY ({key_columns});
ANALYZE {day_table}
