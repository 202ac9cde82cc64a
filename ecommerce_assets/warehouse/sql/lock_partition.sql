-- Serialises writers of the same table partition until the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended(%(lock_name)s, 0))
