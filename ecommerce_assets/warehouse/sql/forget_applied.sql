-- A consumer no longer holds what it took in of a source's days after `day` (all of them when NULL).
DELETE FROM meta.applied_loads
WHERE consumer = %(consumer)s AND source = %(source)s AND (%(day)s::date IS NULL OR snapshot_date > %(day)s)
