-- Metabase card: one product's price over its history intervals — the product in the card's filter
-- (`product_id`), else the one whose price moved most often. [[...]] is Metabase's optional clause.
WITH busiest AS (
    SELECT product_id FROM dm.fct_product_changes WHERE change_type = 'price_changed'
    GROUP BY product_id ORDER BY count(*) DESC, product_id LIMIT 1
), chosen AS (
    SELECT coalesce([[{{product_id}}::bigint,]] (SELECT product_id FROM busiest)) AS product_id
)
SELECT h.valid_from, h.price, h.stock, h.availability_status, h.title
FROM dm.dim_product_history AS h JOIN chosen AS c ON c.product_id = h.product_id
ORDER BY h.valid_from
