-- Every cart of the stored day %(day)s, with a digest of its lines (what they hold, in order).
INSERT INTO meta.cart_sightings (cart_id, snapshot_date, user_id, digest)
SELECT cart_id, snapshot_date, min(user_id),
       md5(string_agg(concat_ws(':', line_no, product_id, price, quantity, total, discount_percentage, discounted_total),
                      '|' ORDER BY line_no))
FROM ods.fct_cart_lines
WHERE snapshot_date = %(day)s
GROUP BY cart_id, snapshot_date
