-- Rows of one ODS partition that break the documented rules (the table's constraints forbid them too).
SELECT
    count(*) FILTER (WHERE category IS NULL OR category = '' OR category <> btrim(category)) AS bad_category,
    count(*) FILTER (WHERE price < 0) AS negative_price,
    count(*) FILTER (WHERE stock < 0) AS negative_stock,
    count(*) FILTER (WHERE rating NOT BETWEEN 0 AND 5) AS rating_out_of_range
FROM ods.fct_products
WHERE snapshot_date = %(partition)s
