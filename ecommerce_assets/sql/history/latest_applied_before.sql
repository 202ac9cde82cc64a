-- The latest snapshot the history took in before a day (NULL: none).
SELECT max(snapshot_date) FROM meta.history_applied WHERE snapshot_date < %(day)s
