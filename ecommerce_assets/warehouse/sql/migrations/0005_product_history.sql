-- Price and stock history: what changed between consecutive loaded snapshots, the intervals during which
-- a product's tracked attributes held, and the mart's columns about stock, value, discounts and changes.

CREATE TABLE IF NOT EXISTS dm.fct_product_changes (
    change_date            date          NOT NULL,
    product_id             bigint        NOT NULL,
    change_type            text          NOT NULL CHECK (change_type IN
                               ('added', 'removed', 'price_changed', 'stock_out', 'restocked', 'category_changed')),
    previous_snapshot_date date,
    old_value              text,
    new_value              text,
    price_change_pct       numeric(14, 2),
    loaded_at              timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (change_date, product_id, change_type),
    CHECK (previous_snapshot_date < change_date)
);
CREATE INDEX IF NOT EXISTS fct_product_changes_product ON dm.fct_product_changes (product_id, change_date);

-- The history is kept in two tables, so that taking a day in costs O(day) however long the history is:
-- the current interval of each product (about one row per product, rewritten daily) and the ended
-- intervals (only ever appended to: no dead rows, nothing to vacuum but the new pages). Readers see them
-- together as dm.dim_product_history.
CREATE TABLE IF NOT EXISTS dm.product_intervals_current (
    product_id          bigint         PRIMARY KEY,
    valid_from          date           NOT NULL,
    title               text,
    category            text           NOT NULL,
    brand               text,
    price               numeric(12, 2),
    discount_percentage numeric(6, 2),
    stock               integer,
    availability_status text,
    rating              numeric(3, 2)
);
-- the same attributes, and when the interval ended
CREATE TABLE IF NOT EXISTS dm.product_intervals_ended (LIKE dm.product_intervals_current);
ALTER TABLE dm.product_intervals_ended
    ADD COLUMN valid_to date NOT NULL,
    ADD PRIMARY KEY (product_id, valid_from),
    ADD CHECK (valid_to > valid_from);
CREATE OR REPLACE VIEW dm.dim_product_history AS
SELECT product_id, valid_from, valid_to, false AS is_current, title, category, brand, price, discount_percentage,
       stock, availability_status, rating
FROM dm.product_intervals_ended
UNION ALL
SELECT product_id, valid_from, NULL::date, true, title, category, brand, price, discount_percentage,
       stock, availability_status, rating
FROM dm.product_intervals_current;

-- Which ODS snapshots the history has taken in, as of which load of each.
CREATE TABLE IF NOT EXISTS meta.history_applied (
    snapshot_date date        PRIMARY KEY,
    ods_loaded_at timestamptz NOT NULL
);

ALTER TABLE dm.fct_ecommerce
    ADD COLUMN IF NOT EXISTS out_of_stock_count integer        CHECK (out_of_stock_count >= 0),
    ADD COLUMN IF NOT EXISTS inventory_value    numeric(20, 2) CHECK (inventory_value >= 0),
    ADD COLUMN IF NOT EXISTS avg_discount_pct   numeric(6, 2),
    ADD COLUMN IF NOT EXISTS price_changes      integer        CHECK (price_changes >= 0);

GRANT SELECT ON dm.fct_product_changes, dm.dim_product_history, dm.product_intervals_current,
    dm.product_intervals_ended TO bi_reader;
