-- One row per raw record that matters after duplicate resolution, with `reason` NULL when accepted.
-- Input view: raw_records(record_index, product_id, record_json). Parameter: $snapshot_date.
WITH latest AS (
    -- Duplicates first: when an id appears twice the later record wins, valid or not. Only ids and
    -- positions are sorted here; the JSON streams through the join below.
    SELECT max(record_index) AS record_index
    FROM raw_records
    WHERE product_id IS NOT NULL
    GROUP BY product_id
),
integer_ids AS (
    SELECT r.record_index, r.product_id, r.record_json
    FROM raw_records AS r
    SEMI JOIN latest AS l ON r.record_index = l.record_index
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
    SELECT
        record_index,
        product_id,
        record_json,
        json_valid(record_json) AND json_type(record_json) = 'OBJECT' AS is_object,
        CASE WHEN json_valid(record_json) AND json_type(record_json) = 'OBJECT' THEN json_extract(record_json, [
            '$.title', '$.description', '$.category', '$.brand', '$.sku',
            '$.price', '$.discountPercentage', '$.rating', '$.stock', '$.availabilityStatus',
            '$.tags', '$.weight', '$.minimumOrderQuantity', '$.meta.createdAt', '$.meta.updatedAt'
        ]) END AS v
    FROM integer_ids
),
fields AS (
    SELECT
        record_index, product_id, record_json, is_object,
        v[1] AS title, v[2] AS description, v[3] AS category, v[4] AS brand, v[5] AS sku,
        v[6] AS price, v[7] AS discount_percentage, v[8] AS rating, v[9] AS stock,
        v[10] AS availability_status, v[11] AS tags, v[12] AS weight, v[13] AS minimum_order_quantity,
        v[14] AS created_at, v[15] AS updated_at
    FROM parsed
),
checked AS (
    SELECT
        *,
        CASE
            WHEN NOT is_object THEN 'invalid_json'
            WHEN NOT ecom_num_ok(price) THEN 'price_not_numeric'
            WHEN NOT ecom_num_ok(stock) THEN 'stock_not_numeric'
            WHEN NOT ecom_num_ok(rating) THEN 'rating_not_numeric'
            WHEN NOT ecom_num_ok(discount_percentage) THEN 'discount_percentage_not_numeric'
            WHEN NOT ecom_num_ok(weight) THEN 'weight_not_numeric'
            WHEN NOT ecom_num_ok(minimum_order_quantity) THEN 'minimum_order_quantity_not_numeric'
            WHEN ecom_num(price) < 0 THEN 'price_negative'
            WHEN ecom_num(stock) < 0 THEN 'stock_negative'
            WHEN ecom_num(stock) <> floor(ecom_num(stock)) THEN 'stock_not_whole'
            WHEN ecom_num(rating) NOT BETWEEN 0 AND 5 THEN 'rating_out_of_range'
            WHEN ecom_num(minimum_order_quantity) <> floor(ecom_num(minimum_order_quantity))
                THEN 'minimum_order_quantity_not_whole'
            WHEN ecom_num_too_big(price, 9999999999.995) THEN 'price_out_of_range'
            WHEN ecom_num_too_big(stock, 2147483648) THEN 'stock_out_of_range'
            WHEN ecom_num_too_big(discount_percentage, 9999.995) THEN 'discount_percentage_out_of_range'
            WHEN ecom_num_too_big(weight, 999999999.9995) THEN 'weight_out_of_range'
            WHEN ecom_num_too_big(minimum_order_quantity, 2147483648) THEN 'minimum_order_quantity_out_of_range'
            WHEN NOT ecom_text_ok(category) THEN 'category_not_text'
            WHEN NOT ecom_text_ok(title) THEN 'title_not_text'
            WHEN NOT ecom_text_ok(description) THEN 'description_not_text'
            WHEN NOT ecom_text_ok(brand) THEN 'brand_not_text'
            WHEN NOT ecom_text_ok(sku) THEN 'sku_not_text'
            WHEN NOT ecom_text_ok(availability_status) THEN 'availability_status_not_text'
            WHEN ecom_text_bad(category) OR ecom_text_bad(title) OR ecom_text_bad(description)
                OR ecom_text_bad(brand) OR ecom_text_bad(sku) OR ecom_text_bad(availability_status)
                OR contains(coalesce(tags::VARCHAR, ''), '\u0000') THEN 'text_contains_nul'
            WHEN NOT ecom_ts_ok(created_at) THEN 'created_at_not_timestamp'
            WHEN NOT ecom_ts_ok(updated_at) THEN 'updated_at_not_timestamp'
        END AS reason
    FROM fields
)
SELECT
    $snapshot_date::DATE AS snapshot_date,
    record_index,
    product_id,
    CASE WHEN reason IS NOT NULL THEN record_json END AS record_json,  -- kept for rejected records only
    reason,
    ecom_text(title) AS title,
    ecom_text(description) AS description,
    coalesce(nullif(regexp_replace(ecom_text(category), '^\s+|\s+$', '', 'g'), ''), 'unknown') AS category,
    ecom_text(brand) AS brand,
    ecom_text(sku) AS sku,
    CASE WHEN reason IS NULL THEN ecom_num(price)::DECIMAL(12, 2) END AS price,
    CASE WHEN reason IS NULL THEN ecom_num(discount_percentage)::DECIMAL(6, 2) END AS discount_percentage,
    CASE WHEN reason IS NULL THEN ecom_num(rating)::DECIMAL(3, 2) END AS rating,
    CASE WHEN reason IS NULL THEN ecom_num(stock)::INTEGER END AS stock,
    ecom_text(availability_status) AS availability_status,
    CASE WHEN reason IS NULL THEN tags::VARCHAR END AS tags,
    CASE WHEN reason IS NULL THEN ecom_num(weight)::DECIMAL(12, 3) END AS weight,
    CASE WHEN reason IS NULL THEN ecom_num(minimum_order_quantity)::INTEGER END AS minimum_order_quantity,
    CASE WHEN reason IS NULL THEN ecom_ts(created_at) END AS created_at,
    CASE WHEN reason IS NULL THEN ecom_ts(updated_at) END AS updated_at
FROM checked
UNION ALL BY NAME
SELECT $snapshot_date::DATE AS snapshot_date, record_index, product_id, record_json, reason
FROM without_id
