-- The sales of order date %(day)s per category: each line's category is its product's on the order date, from
-- the product history ('(unknown)' where the history holds no interval of the product that day).
INSERT INTO dm.fct_sales (order_date, category, orders, units, gross_revenue, net_revenue, customers)
SELECT o.order_date,
       coalesce(h.category, '(unknown)'),
       count(DISTINCT o.order_id),
       sum(l.quantity),
       sum(l.total),
       sum(l.discounted_total),
       count(DISTINCT o.user_id)
FROM dm.fct_orders AS o
JOIN ods.fct_cart_lines AS l ON l.snapshot_date = %(day)s AND l.cart_id = o.order_id
LEFT JOIN dm.dim_product_history AS h
       ON h.product_id = l.product_id AND h.valid_from <= o.order_date
      AND (h.valid_to IS NULL OR h.valid_to > o.order_date)
WHERE o.order_date = %(day)s
GROUP BY o.order_date, coalesce(h.category, '(unknown)')
