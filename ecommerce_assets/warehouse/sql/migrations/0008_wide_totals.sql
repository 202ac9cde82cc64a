-- Totals wide enough for every value the ODS accepts. A product may cost up to 9,999,999,999.99 with a stock up
-- to 2,147,483,647, and a cart line may total up to 999,999,999,999.99 with a quantity up to 2,147,483,647: a
-- category's inventory value, an order's or a day's revenue and units are sums of such values, and the narrower
-- columns failed the whole day on one valid extreme product or cart (numeric field overflow, integer out of
-- range). numeric(38, 2) holds the sum of 10^16 such lines; widening a numeric's precision rewrites nothing.
ALTER TABLE dm.fct_ecommerce ALTER COLUMN inventory_value TYPE numeric(38, 2);

ALTER TABLE dm.fct_orders
    ALTER COLUMN units TYPE bigint,
    ALTER COLUMN gross_revenue TYPE numeric(38, 2),
    ALTER COLUMN net_revenue TYPE numeric(38, 2);

ALTER TABLE dm.fct_sales
    ALTER COLUMN units TYPE bigint,
    ALTER COLUMN gross_revenue TYPE numeric(38, 2),
    ALTER COLUMN net_revenue TYPE numeric(38, 2);

ALTER TABLE dm.fct_customers_daily
    ALTER COLUMN net_revenue TYPE numeric(38, 2),
    ALTER COLUMN avg_order_value TYPE numeric(38, 2);
