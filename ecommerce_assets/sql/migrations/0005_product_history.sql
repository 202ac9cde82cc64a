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

CREATE TABLE IF NOT EXISTS dm.dim_product_history (
    product_id          bigint         NOT NULL,
    valid_from          date           NOT NULL,
    valid_to            date,
    is_current          boolean        NOT NULL,
    title               text,
    category            text           NOT NULL,
    brand               text,
    price               numeric(12, 2),
    discount_percentage numeric(6, 2),
    stock               integer,
    availability_status text,
    rating              numeric(3, 2),
    PRIMARY KEY (product_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (is_current = (valid_to IS NULL))
);
-- the current interval of each product: what a new day is compared with. (No index on valid_from /
-- valid_to: every day ends intervals, and each index would be maintained for every one; the rare rewind of
-- a late day scans instead.)
CREATE UNIQUE INDEX IF NOT EXISTS dim_product_history_current ON dm.dim_product_history (product_id)
    WHERE valid_to IS NULL;

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

GRANT SELECT ON dm.fct_product_changes, dm.dim_product_history TO bi_reader;
