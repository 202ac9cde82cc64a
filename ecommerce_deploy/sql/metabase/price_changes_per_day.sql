-- Metabase card: how many products changed price each day (read by the BI login from dm only).
SELECT change_date, count(*) AS price_changes
FROM dm.fct_product_changes
WHERE change_type = 'price_changed'
GROUP BY change_date
ORDER BY change_date
