-- After a history update: dead row versions of ended intervals reclaimed, statistics current.
VACUUM (ANALYZE) dm.dim_product_history
