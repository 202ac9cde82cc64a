-- A consumer no longer holds anything of one day of a source (the day is gone from it).
DELETE FROM meta.applied_loads WHERE consumer = %(consumer)s AND source = %(source)s AND snapshot_date = %(day)s
