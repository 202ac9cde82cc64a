-- Rewinding, 2/3: intervals that were open on that day are current again (later snapshots will end them).
WITH reopened AS (
    DELETE FROM dm.product_intervals_ended WHERE valid_to > %(day)s RETURNING *
)
INSERT INTO dm.product_intervals_current (product_id, valid_from, title, category, brand, price,
                                          discount_percentage, stock, availability_status, rating)
SELECT product_id, valid_from, title, category, brand, price, discount_percentage, stock, availability_status, rating
FROM reopened
