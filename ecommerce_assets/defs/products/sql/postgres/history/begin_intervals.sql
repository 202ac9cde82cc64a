-- Then: every product of the day without a current interval begins one on this day.
INSERT INTO dm.product_intervals_current (product_id, valid_from, title, category, brand, price,
                                          discount_percentage, stock, availability_status, rating)
SELECT o.product_id, %(day)s, o.title, o.category, o.brand, o.price, o.discount_percentage, o.stock,
       o.availability_status, o.rating
FROM ods.fct_products AS o
WHERE o.snapshot_date = %(day)s
  AND NOT EXISTS (SELECT 1 FROM dm.product_intervals_current AS h WHERE h.product_id = o.product_id)
