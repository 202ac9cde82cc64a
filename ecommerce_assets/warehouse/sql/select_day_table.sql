-- One day of a table partitioned by day, read from the day's own table (no parameter, so the client can
-- stream it as one binary COPY), in key order.
SELECT {columns} FROM {target}
ORDER BY {order_by}
