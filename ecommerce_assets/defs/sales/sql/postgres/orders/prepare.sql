-- The carts whose order is derived again in this transaction, and the order dates that change with them.
CREATE TEMP TABLE IF NOT EXISTS affected_carts (cart_id bigint PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS changed_order_dates (day date PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS order_firsts (cart_id bigint PRIMARY KEY, first_day date NOT NULL) ON COMMIT DROP
