-- One row per raw record that matters after duplicate resolution, with `reason` NULL when accepted.
-- Input view: raw_records(record_index, product_id, record_json). Parameter: $snapshot_date.
WITH latest AS (
    -- Duplicates first: when an id appears twice the later record wins, valid or not. Only ids and
    -- positions are grouped here; the JSON streams through the join below.
    SELECT max(record_index) AS record_index
    FROM raw_records
    WHERE product_id IS NOT NULL
    GROUP BY product_id
),
without_id AS (
    SELECT
        record_index,
        product_id,
        record_json,
        CASE
            WHEN NOT json_valid(record_json) THEN 'invalid_json'
            WHEN json_type(record_json) <> 'OBJECT' THEN 'not_an_object'
            WHEN coalesce(json_type(record_json, '$.id'), 'NULL') = 'NULL' THEN 'missing_id'
            ELSE 'id_not_integer'
        END AS reason
    FROM raw_records
    WHERE product_id IS NULL
),
parsed AS (
    -- Each record is parsed once; every field comes out as JSON text (its kind is its first character).
    SELECT
        r.record_index,
        r.product_id,
        r.record_json,
        json_extract(r.record_json, [
            '$.title', '$.description', '$.category', '$.brand', '$.sku',
            '$.price', '$.discountPercentage', '$.rating', '$.stock', '$.availabilityStatus',
            '$.tags', '$.weight', '$.minimumOrderQuantity', '$.meta.createdAt', '$.meta.updatedAt'
        ])::VARCHAR[] AS j
    FROM raw_records AS r
    SEMI JOIN latest AS l ON r.record_index = l.record_index
),
fields AS (
    SELECT
        record_index, product_id, record_json,
        j[1] AS title_j, j[2] AS description_j, j[3] AS category_j, j[4] AS brand_j, j[5] AS sku_j,
        j[10] AS availability_status_j, j[11] AS tags_j, j[14] AS created_at_j, j[15] AS updated_at_j,
        CASE WHEN left(j[1], 1) = '"' THEN j[1] ->> '$' END AS title,
        CASE WHEN left(j[2], 1) = '"' THEN j[2] ->> '$' END AS description,
        CASE WHEN left(j[3], 1) = '"' THEN j[3] ->> '$' END AS category_s,
        CASE WHEN left(j[4], 1) = '"' THEN j[4] ->> '$' END AS brand,
        CASE WHEN left(j[5], 1) = '"' THEN j[5] ->> '$' END AS sku,
        CASE WHEN left(j[10], 1) = '"' THEN j[10] ->> '$' END AS availability_status,
        CASE WHEN left(j[14], 1) = '"' THEN j[14] ->> '$' END AS created_at_s,
        CASE WHEN left(j[15], 1) = '"' THEN j[15] ->> '$' END AS updated_at_s,
        ecom_num_text(j[6], CASE WHEN left(j[6], 1) = '"' THEN j[6] ->> '$' END) AS price_t,
        ecom_num_text(j[7], CASE WHEN left(j[7], 1) = '"' THEN j[7] ->> '$' END) AS discount_percentage_t,
        ecom_num_text(j[8], CASE WHEN left(j[8], 1) = '"' THEN j[8] ->> '$' END) AS rating_t,
        ecom_num_text(j[9], CASE WHEN left(j[9], 1) = '"' THEN j[9] ->> '$' END) AS stock_t,
        ecom_num_text(j[12], CASE WHEN left(j[12], 1) = '"' THEN j[12] ->> '$' END) AS weight_t,
        ecom_num_text(j[13], CASE WHEN left(j[13], 1) = '"' THEN j[13] ->> '$' END) AS minimum_order_quantity_t
    FROM parsed
),
numbers AS (
    -- A numeric field is fine when absent/null/empty or a finite number (its DOUBLE reading); its exact
    -- value is its DECIMAL reading, NULL when it exceeds DECIMAL(38,10).
    SELECT
        *,
        TRY_CAST(price_t AS DOUBLE) AS price_f,
        TRY_CAST(discount_percentage_t AS DOUBLE) AS discount_percentage_f,
        TRY_CAST(rating_t AS DOUBLE) AS rating_f,
        TRY_CAST(stock_t AS DOUBLE) AS stock_f,
        TRY_CAST(weight_t AS DOUBLE) AS weight_f,
        TRY_CAST(minimum_order_quantity_t AS DOUBLE) AS minimum_order_quantity_f,
        coalesce(TRY_CAST(price_t AS DECIMAL(38, 10)), TRY_CAST(TRY_CAST(price_t AS DOUBLE) AS DECIMAL(38, 10))) AS price_n,
        coalesce(TRY_CAST(discount_percentage_t AS DECIMAL(38, 10)), TRY_CAST(TRY_CAST(discount_percentage_t AS DOUBLE) AS DECIMAL(38, 10))) AS discount_percentage_n,
        coalesce(TRY_CAST(rating_t AS DECIMAL(38, 10)), TRY_CAST(TRY_CAST(rating_t AS DOUBLE) AS DECIMAL(38, 10))) AS rating_n,
        coalesce(TRY_CAST(stock_t AS DECIMAL(38, 10)), TRY_CAST(TRY_CAST(stock_t AS DOUBLE) AS DECIMAL(38, 10))) AS stock_n,
        coalesce(TRY_CAST(weight_t AS DECIMAL(38, 10)), TRY_CAST(TRY_CAST(weight_t AS DOUBLE) AS DECIMAL(38, 10))) AS weight_n,
        coalesce(TRY_CAST(minimum_order_quantity_t AS DECIMAL(38, 10)), TRY_CAST(TRY_CAST(minimum_order_quantity_t AS DOUBLE) AS DECIMAL(38, 10))) AS minimum_order_quantity_n,
        TRY_CAST(created_at_s AS TIMESTAMPTZ) AS created_at_ts,
        TRY_CAST(updated_at_s AS TIMESTAMPTZ) AS updated_at_ts
    FROM fields
),
checked AS (
    SELECT
        *,
        CASE
            WHEN price_t IS NOT NULL AND NOT coalesce(isfinite(price_f), false) THEN 'price_not_numeric'
            WHEN stock_t IS NOT NULL AND NOT coalesce(isfinite(stock_f), false) THEN 'stock_not_numeric'
            WHEN rating_t IS NOT NULL AND NOT coalesce(isfinite(rating_f), false) THEN 'rating_not_numeric'
            WHEN discount_percentage_t IS NOT NULL AND NOT coalesce(isfinite(discount_percentage_f), false)
                THEN 'discount_percentage_not_numeric'
            WHEN weight_t IS NOT NULL AND NOT coalesce(isfinite(weight_f), false) THEN 'weight_not_numeric'
            WHEN minimum_order_quantity_t IS NOT NULL AND NOT coalesce(isfinite(minimum_order_quantity_f), false)
                THEN 'minimum_order_quantity_not_numeric'
            WHEN price_f < 0 THEN 'price_negative'
            WHEN stock_f < 0 THEN 'stock_negative'
            WHEN stock_f <> floor(stock_f) OR stock_n <> floor(stock_n) THEN 'stock_not_whole'
            WHEN rating_f NOT BETWEEN 0 AND 5 OR rating_n NOT BETWEEN 0 AND 5 THEN 'rating_out_of_range'
            WHEN minimum_order_quantity_f <> floor(minimum_order_quantity_f)
                OR minimum_order_quantity_n <> floor(minimum_order_quantity_n) THEN 'minimum_order_quantity_not_whole'
            -- does not fit its column (magnitude after rounding to the column's scale)
            WHEN price_t IS NOT NULL AND (price_n IS NULL OR abs(price_n) >= 9999999999.995) THEN 'price_out_of_range'
            WHEN stock_t IS NOT NULL AND (stock_n IS NULL OR abs(stock_n) >= 2147483648) THEN 'stock_out_of_range'
            WHEN discount_percentage_t IS NOT NULL AND (discount_percentage_n IS NULL OR abs(discount_percentage_n) >= 9999.995)
                THEN 'discount_percentage_out_of_range'
            WHEN weight_t IS NOT NULL AND (weight_n IS NULL OR abs(weight_n) >= 999999999.9995) THEN 'weight_out_of_range'
            WHEN minimum_order_quantity_t IS NOT NULL
                AND (minimum_order_quantity_n IS NULL OR abs(minimum_order_quantity_n) >= 2147483648)
                THEN 'minimum_order_quantity_out_of_range'
            WHEN ecom_kind(category_j) NOT IN ('null', 'string') THEN 'category_not_text'
            WHEN ecom_kind(title_j) NOT IN ('null', 'string') THEN 'title_not_text'
            WHEN ecom_kind(description_j) NOT IN ('null', 'string') THEN 'description_not_text'
            WHEN ecom_kind(brand_j) NOT IN ('null', 'string') THEN 'brand_not_text'
            WHEN ecom_kind(sku_j) NOT IN ('null', 'string') THEN 'sku_not_text'
            WHEN ecom_kind(availability_status_j) NOT IN ('null', 'string') THEN 'availability_status_not_text'
            -- PostgreSQL text and jsonb cannot hold NUL characters
            WHEN coalesce(contains(title, chr(0)) OR contains(description, chr(0)) OR contains(category_s, chr(0))
                OR contains(brand, chr(0)) OR contains(sku, chr(0)) OR contains(availability_status, chr(0))
                OR contains(tags_j, '\u0000'), false) THEN 'text_contains_nul'
            WHEN ecom_kind(created_at_j) <> 'null' AND created_at_ts IS NULL THEN 'created_at_not_timestamp'
            WHEN ecom_kind(updated_at_j) <> 'null' AND updated_at_ts IS NULL THEN 'updated_at_not_timestamp'
        END AS reason
    FROM numbers
)
SELECT
    $snapshot_date::DATE AS snapshot_date,
    record_index,
    product_id,
    CASE WHEN reason IS NOT NULL THEN record_json END AS record_json,  -- kept for rejected records only
    reason,
    title,
    description,
    coalesce(nullif(ecom_trim(category_s), ''), 'unknown') AS category,
    brand,
    sku,
    CASE WHEN reason IS NULL THEN price_n::DECIMAL(12, 2) END AS price,
    CASE WHEN reason IS NULL THEN discount_percentage_n::DECIMAL(6, 2) END AS discount_percentage,
    CASE WHEN reason IS NULL THEN rating_n::DECIMAL(3, 2) END AS rating,
    CASE WHEN reason IS NULL THEN stock_n::INTEGER END AS stock,
    availability_status,
    CASE WHEN reason IS NULL AND ecom_kind(tags_j) <> 'null' THEN tags_j END AS tags,
    CASE WHEN reason IS NULL THEN weight_n::DECIMAL(12, 3) END AS weight,
    CASE WHEN reason IS NULL THEN minimum_order_quantity_n::INTEGER END AS minimum_order_quantity,
    CASE WHEN reason IS NULL THEN created_at_ts END AS created_at,
    CASE WHEN reason IS NULL THEN updated_at_ts END AS updated_at
FROM checked
UNION ALL BY NAME
SELECT $snapshot_date::DATE AS snapshot_date, record_index, product_id, record_json, reason
FROM without_id
