-- Metabase card: new customers (first order that day) against returning ones, per day.
SELECT report_date, new_customers, returning_customers
FROM dm.fct_customers_daily
ORDER BY report_date
