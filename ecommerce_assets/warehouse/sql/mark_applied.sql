-- A consumer has taken in a day of a source as of its load at `loaded_at`.
INSERT INTO meta.applied_loads (consumer, source, snapshot_date, loaded_at)
VALUES (%(consumer)s, %(source)s, %(day)s, %(loaded_at)s)
ON CONFLICT (consumer, source, snapshot_date) DO UPDATE SET loaded_at = EXCLUDED.loaded_at
