-- The changes of the snapshot of day %(day)s against the earlier snapshot of day %(previous)s (NULL: the
-- first snapshot, no rows), one row per product and change, values as text. price_change_pct: (new - old)
-- / old in percent, rounded half away from zero to 2 decimals (PostgreSQL's numeric round); NULL from 0.
INSERT INTO dm.fct_product_changes (change_date, product_id, change_type, previous_snapshot_date, old_value,
                                    new_value, price_change_pct)
WITH cur AS (
    SELECT product_id, title, category, price, stock FROM ods.fct_products WHERE snapshot_date = %(day)s
), prev AS (
    SELECT product_id, title, category, price, stock FROM ods.fct_products WHERE snapshot_date = %(previous)s
), both_days AS (
    SELECT c.product_id, p.price AS old_price, c.price AS new_price, p.stock AS old_stock, c.stock AS new_stock,
           p.category AS old_category, c.category AS new_category
    FROM cur AS c JOIN prev AS p USING (product_id)
), changes AS (
    SELECT product_id, 'added' AS change_type, NULL::text AS old_value, c.title AS new_value,
           NULL::numeric AS price_change_pct
    FROM cur AS c
    WHERE %(previous)s::date IS NOT NULL AND NOT EXISTS (SELECT 1 FROM prev AS p WHERE p.product_id = c.product_id)
    UNION ALL
    SELECT product_id, 'removed', p.title, NULL, NULL
    FROM prev AS p WHERE NOT EXISTS (SELECT 1 FROM cur AS c WHERE c.product_id = p.product_id)
    UNION ALL
    SELECT product_id, 'price_changed', old_price::text, new_price::text,
           CASE WHEN old_price > 0 THEN round((new_price - old_price) * 100 / old_price, 2) END
    FROM both_days WHERE old_price <> new_price
    UNION ALL
    SELECT product_id, 'stock_out', old_stock::text, new_stock::text, NULL
    FROM both_days WHERE old_stock > 0 AND new_stock = 0
    UNION ALL
    SELECT product_id, 'restocked', old_stock::text, new_stock::text, NULL
    FROM both_days WHERE old_stock = 0 AND new_stock > 0
    UNION ALL
    SELECT product_id, 'category_changed', old_category, new_category, NULL
    FROM both_days WHERE old_category <> new_category
)
SELECT %(day)s, product_id, change_type, %(previous)s, old_value, new_value, price_change_pct FROM changes
