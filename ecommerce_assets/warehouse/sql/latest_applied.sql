-- The latest day of a source a consumer has taken in, before `before` when given.
SELECT max(snapshot_date) FROM meta.applied_loads
WHERE consumer = %(consumer)s AND source = %(source)s AND (%(before)s::date IS NULL OR snapshot_date < %(before)s)
