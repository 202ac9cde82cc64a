-- The latest snapshot the history has taken in (NULL: none).
SELECT max(snapshot_date) FROM meta.history_applied
