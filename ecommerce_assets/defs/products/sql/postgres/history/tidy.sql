-- After a history update, 1/2: the current intervals (about one row per product, rewritten daily) have
-- their dead row versions reclaimed and their statistics refreshed.
VACUUM (ANALYZE) dm.product_intervals_current
