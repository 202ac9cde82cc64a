-- Taking in the snapshot of day %(day)s (later than every snapshot the history holds), first: a product's
-- current interval ends on this day when the product is absent or any tracked attribute differs (NULLs
-- compare equal); it moves to the ended intervals.
WITH ended AS (
    DELETE FROM dm.product_intervals_current AS h
    WHERE NOT EXISTS (
        SELECT 1 FROM ods.fct_products AS o
        WHERE o.snapshot_date = %(day)s AND o.product_id = h.product_id
          AND (o.title, o.category, o.brand, o.price, o.discount_percentage, o.stock, o.availability_status, o.rating)
              IS NOT DISTINCT FROM
              (h.title, h.category, h.brand, h.price, h.discount_percentage, h.stock, h.availability_status, h.rating)
    )
    RETURNING h.*
)
INSERT INTO dm.product_intervals_ended (product_id, valid_from, valid_to, title, category, brand, price,
                                        discount_percentage, stock, availability_status, rating)
SELECT product_id, valid_from, %(day)s, title, category, brand, price, discount_percentage, stock,
       availability_status, rating
FROM ended
