-- The daily category mart from one ODS partition.
-- Input view: ods_products (category, price, stock, rating). Parameter: $report_date.
-- Averages are exact: sums of DECIMAL cents divided in integers, rounded half-up to 2 decimals
-- (prices and ratings are never negative in the ODS, so half-up is (2*sum + n) // (2*n)).
SELECT
    $report_date::DATE AS report_date,
    category,
    count(*)::INTEGER AS product_count,
    coalesce(sum(stock), 0)::BIGINT AS total_stock,
    CASE WHEN count(price) > 0 THEN
        ((2 * (sum(price) * 100)::HUGEINT + count(price)) // (2 * count(price)))::DECIMAL(18, 0) * 0.01::DECIMAL(3, 2)
    END::DECIMAL(12, 2) AS avg_price,
    CASE WHEN count(rating) > 0 THEN
        ((2 * (sum(rating) * 100)::HUGEINT + count(rating)) // (2 * count(rating)))::DECIMAL(18, 0) * 0.01::DECIMAL(3, 2)
    END::DECIMAL(3, 2) AS avg_rating
FROM ods_products
GROUP BY category
ORDER BY category
