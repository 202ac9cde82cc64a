-- The sales domain: carts and users as daily snapshots in the ODS, orders, sales and customers in the marts.

-- Every line of every accepted cart, per snapshot day (a partition per day, like ods.fct_products).
CREATE TABLE IF NOT EXISTS ods.fct_cart_lines (
    snapshot_date       date           NOT NULL,
    cart_id             bigint         NOT NULL,
    line_no             integer        NOT NULL CHECK (line_no >= 1),
    user_id             bigint         NOT NULL,
    product_id          bigint         NOT NULL,
    title               text,
    price               numeric(12, 2) NOT NULL CHECK (price >= 0),
    quantity            integer        NOT NULL CHECK (quantity >= 1),
    total               numeric(14, 2) NOT NULL,
    discount_percentage numeric(5, 2),
    discounted_total    numeric(14, 2) NOT NULL,
    loaded_at           timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, cart_id, line_no)
) PARTITION BY LIST (snapshot_date);

-- Carts the rules rejected, whole, with the reason and how many lines they held.
CREATE TABLE IF NOT EXISTS ods.rejected_carts (
    snapshot_date date        NOT NULL,
    record_index  bigint      NOT NULL,
    cart_id       bigint,
    reason        text        NOT NULL,
    lines         integer     NOT NULL CHECK (lines >= 0),
    payload       text        NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, record_index)
);

-- The users of each day, reduced: no personal field but the keyed hash of the e-mail (customer_key).
CREATE TABLE IF NOT EXISTS ods.dim_customers (
    snapshot_date date        NOT NULL,
    user_id       bigint      NOT NULL,
    customer_key  text CHECK (customer_key ~ '^[0-9a-f]{64}$'),
    age           integer CHECK (age BETWEEN 0 AND 150),
    gender        text,
    role          text,
    city          text,
    state         text,
    country       text,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, user_id)
) PARTITION BY LIST (snapshot_date);

-- Users the rules rejected: the reason only (a user's record is never kept whole, anywhere).
CREATE TABLE IF NOT EXISTS ods.rejected_users (
    snapshot_date date        NOT NULL,
    record_index  bigint      NOT NULL,
    user_id       bigint,
    reason        text        NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, record_index)
);

-- An order is a cart as first seen: the earliest loaded snapshot holding it, its lines as there.
CREATE TABLE IF NOT EXISTS dm.fct_orders (
    order_id      bigint         PRIMARY KEY,
    order_date    date           NOT NULL,
    user_id       bigint         NOT NULL,
    lines         integer        NOT NULL CHECK (lines >= 1),
    units         integer        NOT NULL CHECK (units >= 1),
    gross_revenue numeric(16, 2) NOT NULL,
    net_revenue   numeric(16, 2) NOT NULL
);
CREATE INDEX IF NOT EXISTS fct_orders_order_date ON dm.fct_orders (order_date);
CREATE INDEX IF NOT EXISTS fct_orders_user_date ON dm.fct_orders (user_id, order_date);

-- Per order date and category (the product's category on the order date, from the product history).
CREATE TABLE IF NOT EXISTS dm.fct_sales (
    order_date    date           NOT NULL,
    category      text           NOT NULL,
    orders        integer        NOT NULL CHECK (orders >= 1),
    units         integer        NOT NULL CHECK (units >= 1),
    gross_revenue numeric(16, 2) NOT NULL,
    net_revenue   numeric(16, 2) NOT NULL,
    customers     integer        NOT NULL CHECK (customers >= 1),
    PRIMARY KEY (order_date, category)
);

-- Per day: orders, customers, new (first order that day) and returning (an earlier order) customers.
CREATE TABLE IF NOT EXISTS dm.fct_customers_daily (
    report_date         date           PRIMARY KEY,
    orders              integer        NOT NULL CHECK (orders >= 1),
    customers           integer        NOT NULL CHECK (customers >= 1),
    new_customers       integer        NOT NULL CHECK (new_customers >= 0),
    returning_customers integer        NOT NULL CHECK (returning_customers >= 0),
    net_revenue         numeric(16, 2) NOT NULL,
    avg_order_value     numeric(14, 2) NOT NULL,
    CHECK (new_customers + returning_customers = customers)
);

-- Every cart in every loaded snapshot, with a digest of its lines: where each order's first day is found
-- (one index probe per cart, however many days are stored), and what changed after it.
CREATE TABLE IF NOT EXISTS meta.cart_sightings (
    cart_id       bigint NOT NULL,
    snapshot_date date   NOT NULL,
    user_id       bigint NOT NULL,
    digest        text   NOT NULL,
    PRIMARY KEY (cart_id, snapshot_date)
);
CREATE INDEX IF NOT EXISTS cart_sightings_day ON meta.cart_sightings (snapshot_date);

-- Each customer's first order date (the customers mart's new vs returning).
CREATE TABLE IF NOT EXISTS meta.customer_first_orders (
    user_id          bigint PRIMARY KEY,
    first_order_date date   NOT NULL
);
CREATE INDEX IF NOT EXISTS customer_first_orders_date ON meta.customer_first_orders (first_order_date);

-- Which days of a source each incremental table has taken in, as of which load (one mechanism for all of
-- them: the product history, orders, sales, customers). A source is a day-partitioned table (its loads in
-- meta.partition_loads) or another consumer (the days it has taken in).
CREATE TABLE IF NOT EXISTS meta.applied_loads (
    consumer      text        NOT NULL,
    source        text        NOT NULL,
    snapshot_date date        NOT NULL,
    loaded_at     timestamptz NOT NULL,
    PRIMARY KEY (consumer, source, snapshot_date)
);
INSERT INTO meta.applied_loads (consumer, source, snapshot_date, loaded_at)
SELECT 'dm.dim_product_history', 'ods.fct_products', snapshot_date, ods_loaded_at FROM meta.history_applied
ON CONFLICT DO NOTHING;
DROP TABLE meta.history_applied;

GRANT SELECT ON dm.fct_orders, dm.fct_sales, dm.fct_customers_daily TO bi_reader;
