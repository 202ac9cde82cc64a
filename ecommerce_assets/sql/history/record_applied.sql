-- The history has taken in the snapshot of a day as loaded at a given time.
INSERT INTO meta.history_applied (snapshot_date, ods_loaded_at) VALUES (%(day)s, %(loaded_at)s)
ON CONFLICT (snapshot_date) DO UPDATE SET ods_loaded_at = EXCLUDED.ods_loaded_at
