-- The mart of one day, as the terminal shows it.
SELECT category, product_count, total_stock, avg_price, avg_rating, out_of_stock_count, inventory_value,
       avg_discount_pct, price_changes
FROM dm.fct_ecommerce WHERE report_date = %(day)s ORDER BY category
