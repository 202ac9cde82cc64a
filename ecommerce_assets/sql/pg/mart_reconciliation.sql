-- The stored mart of one day against the same figures computed here from the stored ODS partition:
-- one row per category that is missing on either side or differs in any figure.
WITH ods AS (
    SELECT
        category,
        count(*)::integer AS product_count,
        coalesce(sum(stock), 0)::bigint AS total_stock,
        round(avg(price), 2) AS avg_price,
        round(avg(rating), 2) AS avg_rating
    FROM ods.fct_products
    WHERE snapshot_date = %(partition)s
    GROUP BY category
),
mart AS (
    SELECT category, product_count, total_stock, avg_price, avg_rating
    FROM dm.fct_ecommerce
    WHERE report_date = %(partition)s
)
SELECT
    coalesce(o.category, m.category) AS category,
    o.product_count, m.product_count,
    o.total_stock, m.total_stock,
    o.avg_price, m.avg_price,
    o.avg_rating, m.avg_rating
FROM ods AS o
FULL JOIN mart AS m ON m.category = o.category
WHERE (o.product_count, o.total_stock, o.avg_price, o.avg_rating)
      IS DISTINCT FROM (m.product_count, m.total_stock, m.avg_price, m.avg_rating)
ORDER BY 1
