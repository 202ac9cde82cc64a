-- Warehouse layers: ods (typed daily snapshots) and dm (marts for BI).
CREATE SCHEMA IF NOT EXISTS ods;
CREATE SCHEMA IF NOT EXISTS dm;

-- A daily periodic snapshot of the catalog: one row per product and snapshot date.
CREATE TABLE IF NOT EXISTS ods.fct_products (
    snapshot_date          date           NOT NULL,
    product_id             bigint         NOT NULL,
    title                  text,
    description            text,
    category               text           NOT NULL CHECK (category <> ''),
    brand                  text,
    sku                    text,
    price                  numeric(12, 2) CHECK (price >= 0),
    discount_percentage    numeric(6, 2),
    rating                 numeric(3, 2)  CHECK (rating BETWEEN 0 AND 5),
    stock                  integer        CHECK (stock >= 0),
    availability_status    text,
    tags                   jsonb,
    weight                 numeric(12, 3),
    minimum_order_quantity integer,
    created_at             timestamptz,
    updated_at             timestamptz,
    loaded_at              timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, product_id)
);

-- Records of a snapshot that failed the ODS rules, with the reason; replaced with their partition.
CREATE TABLE IF NOT EXISTS ods.rejected_products (
    snapshot_date date        NOT NULL,
    record_index  bigint      NOT NULL,
    product_id    bigint,
    reason        text        NOT NULL,
    payload       text        NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, record_index)
);

-- The daily category mart.
CREATE TABLE IF NOT EXISTS dm.fct_ecommerce (
    report_date   date           NOT NULL,
    category      text           NOT NULL,
    product_count integer        NOT NULL CHECK (product_count > 0),
    total_stock   bigint         NOT NULL CHECK (total_stock >= 0),
    avg_price     numeric(12, 2) CHECK (avg_price >= 0),
    avg_rating    numeric(3, 2)  CHECK (avg_rating BETWEEN 0 AND 5),
    loaded_at     timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (report_date, category)
);
