-- The top-level keys the records of the view raw_records(record_json) use, each once. `try` makes a record the
-- JSON reader refuses NULL (no keys); a record that is not an object has none either.
SELECT DISTINCT unnest(try(json_keys(record_json))) AS key FROM raw_records
