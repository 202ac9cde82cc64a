-- The daily category mart from one ODS partition.
-- Input views: ods_products (product_id, category, price, stock, rating, discount_percentage) and
-- price_changed (product_id: the products whose price changed on the day). Parameter: $report_date.
-- Averages are exact: sums of DECIMAL cents divided in integers, rounded half-up to 2 decimals
-- (prices and ratings are never negative in the ODS, so half-up is (2*sum + n) // (2*n); a discount may
-- be, so its average rounds half away from zero on the magnitude). The inventory value multiplies in DECIMAL(38):
-- DuckDB types DECIMAL(12, 2) * INTEGER as DECIMAL(18, 2), which one extreme product the ODS accepts overflows.
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
    END::DECIMAL(3, 2) AS avg_rating,
    count(*) FILTER (WHERE stock = 0)::INTEGER AS out_of_stock_count,
    coalesce(sum(price::DECIMAL(38, 2) * stock), 0)::DECIMAL(38, 2) AS inventory_value,
    CASE WHEN count(discount_percentage) > 0 THEN
        sign(sum(discount_percentage))
        * ((2 * abs(sum(discount_percentage) * 100)::HUGEINT + count(discount_percentage))
           // (2 * count(discount_percentage)))::DECIMAL(18, 0) * 0.01::DECIMAL(3, 2)
    END::DECIMAL(6, 2) AS avg_discount_pct,
    count(*) FILTER (WHERE product_id IN (SELECT product_id FROM price_changed))::INTEGER AS price_changes
FROM ods_products
GROUP BY category
ORDER BY category
