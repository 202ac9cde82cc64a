-- The stored mart of one day against the same figures computed here from the stored ODS partition and
-- the stored changes of the day: one row per category that is missing on either side or differs in any
-- figure (PostgreSQL's numeric round: half away from zero, as the mart).
WITH ods AS (
    SELECT
        o.category,
        count(*)::integer AS product_count,
        coalesce(sum(o.stock), 0)::bigint AS total_stock,
        round(avg(o.price), 2) AS avg_price,
        round(avg(o.rating), 2) AS avg_rating,
        (count(*) FILTER (WHERE o.stock = 0))::integer AS out_of_stock_count,
        coalesce(sum(o.price * o.stock), 0)::numeric(38, 2) AS inventory_value,
        round(avg(o.discount_percentage), 2) AS avg_discount_pct,
        (count(*) FILTER (WHERE c.product_id IS NOT NULL))::integer AS price_changes
    FROM ods.fct_products AS o
    LEFT JOIN dm.fct_product_changes AS c
        ON c.change_date = o.snapshot_date AND c.product_id = o.product_id AND c.change_type = 'price_changed'
    WHERE o.snapshot_date = %(partition)s
    GROUP BY o.category
),
mart AS (
    SELECT category, product_count, total_stock, avg_price, avg_rating, out_of_stock_count, inventory_value,
           avg_discount_pct, price_changes
    FROM dm.fct_ecommerce
    WHERE report_date = %(partition)s
)
SELECT
    coalesce(o.category, m.category) AS category,
    o.product_count, m.product_count,
    o.total_stock, m.total_stock,
    o.avg_price, m.avg_price,
    o.avg_rating, m.avg_rating,
    o.out_of_stock_count, m.out_of_stock_count,
    o.inventory_value, m.inventory_value,
    o.avg_discount_pct, m.avg_discount_pct,
    o.price_changes, m.price_changes
FROM ods AS o
FULL JOIN mart AS m ON m.category = o.category
WHERE (o.product_count, o.total_stock, o.avg_price, o.avg_rating, o.out_of_stock_count, o.inventory_value,
       o.avg_discount_pct, o.price_changes)
      IS DISTINCT FROM (m.product_count, m.total_stock, m.avg_price, m.avg_rating, m.out_of_stock_count,
                        m.inventory_value, m.avg_discount_pct, m.price_changes)
ORDER BY 1
