-- One row per loaded partition of each warehouse table, written in the load's own transaction: a
-- partition is present when it has a row here, even with no rows of its own (an empty catalog day).
CREATE TABLE IF NOT EXISTS meta.partition_loads (
    table_name     text        NOT NULL,
    partition_date date        NOT NULL,
    row_count      bigint      NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_date)
);

-- Partitions loaded before this table existed.
INSERT INTO meta.partition_loads (table_name, partition_date, row_count)
SELECT 'ods.fct_products', snapshot_date, count(*) FROM ods.fct_products GROUP BY snapshot_date
ON CONFLICT DO NOTHING;
INSERT INTO meta.partition_loads (table_name, partition_date, row_count)
SELECT 'dm.fct_ecommerce', report_date, count(*) FROM dm.fct_ecommerce GROUP BY report_date
ON CONFLICT DO NOTHING;
