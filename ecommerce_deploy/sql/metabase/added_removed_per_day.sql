-- Metabase card: products added to and removed from the catalog each day.
SELECT change_date,
       count(*) FILTER (WHERE change_type = 'added') AS added,
       count(*) FILTER (WHERE change_type = 'removed') AS removed
FROM dm.fct_product_changes
WHERE change_type IN ('added', 'removed')
GROUP BY change_date
ORDER BY change_date
