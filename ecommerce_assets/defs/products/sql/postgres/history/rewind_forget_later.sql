-- Rewinding the history to the snapshot of day %(day)s (NULL: to nothing), 1/3: intervals that begin
-- after it go, current or ended.
WITH current_later AS (
    DELETE FROM dm.product_intervals_current WHERE %(day)s::date IS NULL OR valid_from > %(day)s
)
DELETE FROM dm.product_intervals_ended WHERE %(day)s::date IS NULL OR valid_from > %(day)s
