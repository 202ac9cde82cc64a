-- Rewinding the history to the snapshot of day %(day)s (NULL: to nothing), 1/3: intervals that begin
-- after it go.
DELETE FROM dm.dim_product_history WHERE %(day)s::date IS NULL OR valid_from > %(day)s
