-- Rewinding, 3/3: the later snapshots are no longer taken in.
DELETE FROM meta.history_applied WHERE %(day)s::date IS NULL OR snapshot_date > %(day)s
