-- The ODS rules, one row per record of the view ods_records(record_index, product_id, record_json) — the records
-- with an integer id, each id once (products_with_id.sql or, when an id repeats, products_each_id_once.sql) —
-- with `reason` NULL when accepted. Parameter: $snapshot_date. A record that cannot even be decoded is rejected
-- with its reason, never an error. Rows come out in the view's order (projections only: no join, no sort), so
-- the rules can stream.
WITH parsed AS (
    -- Each record is parsed once; every field comes out as JSON text (its kind is its first character).
    -- `try` turns a record the JSON reader refuses (a lone surrogate escape, say) into NULL, not an error.
    SELECT
        r.record_index,
        r.product_id,
        r.record_json,
        try(json_extract(r.record_json, [
            '$.title', '$.description', '$.category', '$.brand', '$.sku',
            '$.price', '$.discountPercentage', '$.rating', '$.stock', '$.availabilityStatus',
            '$.tags', '$.weight', '$.minimumOrderQuantity', '$.meta.createdAt', '$.meta.updatedAt', '$.id'
        ])::VARCHAR[]) AS j
    FROM ods_records AS r
),
fields AS (
    SELECT
        record_index, product_id, record_json,
        j IS NULL AS undecodable,
        j[1] AS title_j, j[2] AS description_j, j[3] AS category_j, j[4] AS brand_j, j[5] AS sku_j,
        j[10] AS availability_status_j, j[11] AS tags_j, j[14] AS created_at_j, j[15] AS updated_at_j,
        -- the id as this reader sees it (the first `id` of the object) against the one the raw layer read
        NOT coalesce(regexp_full_match(j[16], '-?[0-9]+') AND TRY_CAST(j[16] AS BIGINT) = product_id, false)
            AS id_ambiguous,
        ecom_string(j[1]) AS title,
        ecom_string(j[2]) AS description,
        ecom_string(j[3]) AS category_s,
        ecom_string(j[4]) AS brand,
        ecom_string(j[5]) AS sku,
        ecom_string(j[10]) AS availability_status,
        ecom_string(j[14]) AS created_at_s,
        ecom_string(j[15]) AS updated_at_s,
        CASE WHEN prefix(j[11], '[') THEN json_extract(j[11], '$[*]')::VARCHAR[] END AS tag_items_j,
        ecom_num_text(j[6]) AS price_t,
        ecom_num_text(j[7]) AS discount_percentage_t,
        ecom_num_text(j[8]) AS rating_t,
        ecom_num_text(j[9]) AS stock_t,
        ecom_num_text(j[12]) AS weight_t,
        ecom_num_text(j[13]) AS minimum_order_quantity_t
    FROM parsed
),
numbers AS (
    -- A numeric field is fine when absent/null/empty or a number in the accepted spelling. The rules judge
    -- its exact reading (`_x`, or its DOUBLE reading `_f` past 1e10); the stored value is the text rounded
    -- once, half-up, to the column's scale (`_v`), NULL when it does not fit.
    SELECT
        *,
        ecom_is_number(price_t) AS price_ok,
        ecom_is_number(discount_percentage_t) AS discount_percentage_ok,
        ecom_is_number(rating_t) AS rating_ok,
        ecom_is_number(stock_t) AS stock_ok,
        ecom_is_number(weight_t) AS weight_ok,
        ecom_is_number(minimum_order_quantity_t) AS minimum_order_quantity_ok,
        coalesce(ecom_exact(price_t) < 0, TRY_CAST(price_t AS DOUBLE) < 0) AS price_below_zero,
        coalesce(ecom_exact(stock_t) < 0, TRY_CAST(stock_t AS DOUBLE) < 0) AS stock_below_zero,
        NOT coalesce(ecom_exact(stock_t) = floor(ecom_exact(stock_t)),
                     TRY_CAST(stock_t AS DOUBLE) = floor(TRY_CAST(stock_t AS DOUBLE))) AS stock_fraction,
        NOT coalesce(ecom_exact(rating_t) BETWEEN 0 AND 5, TRY_CAST(rating_t AS DOUBLE) BETWEEN 0 AND 5)
            AS rating_outside,
        NOT coalesce(ecom_exact(minimum_order_quantity_t) = floor(ecom_exact(minimum_order_quantity_t)),
                     TRY_CAST(minimum_order_quantity_t AS DOUBLE) = floor(TRY_CAST(minimum_order_quantity_t AS DOUBLE)))
            AS minimum_order_quantity_fraction,
        TRY_CAST(price_t AS DECIMAL(38, 2)) AS price_v,
        TRY_CAST(discount_percentage_t AS DECIMAL(38, 2)) AS discount_percentage_v,
        TRY_CAST(rating_t AS DECIMAL(38, 2)) AS rating_v,
        TRY_CAST(stock_t AS DECIMAL(38, 0)) AS stock_v,
        TRY_CAST(weight_t AS DECIMAL(38, 3)) AS weight_v,
        TRY_CAST(minimum_order_quantity_t AS DECIMAL(38, 0)) AS minimum_order_quantity_v,
        TRY_CAST(created_at_s AS TIMESTAMPTZ) AS created_at_ts,
        TRY_CAST(updated_at_s AS TIMESTAMPTZ) AS updated_at_ts
    FROM fields
),
checked AS (
    SELECT
        *,
        CASE
            WHEN undecodable THEN
                ecom_undecodable_reason(record_json)
            -- an object naming `id` more than once, with different values: which product it is depends on
            -- the reader (first or last wins), so it is neither product
            WHEN id_ambiguous THEN 'id_ambiguous'
            WHEN NOT price_ok THEN 'price_not_numeric'
            WHEN NOT stock_ok THEN 'stock_not_numeric'
            WHEN NOT rating_ok THEN 'rating_not_numeric'
            WHEN NOT discount_percentage_ok THEN 'discount_percentage_not_numeric'
            WHEN NOT weight_ok THEN 'weight_not_numeric'
            WHEN NOT minimum_order_quantity_ok THEN 'minimum_order_quantity_not_numeric'
            WHEN price_below_zero THEN 'price_negative'
            WHEN stock_below_zero THEN 'stock_negative'
            WHEN stock_fraction THEN 'stock_not_whole'
            WHEN rating_outside THEN 'rating_out_of_range'
            WHEN minimum_order_quantity_fraction THEN 'minimum_order_quantity_not_whole'
            -- does not fit its column once rounded to the column's scale
            WHEN price_t IS NOT NULL AND coalesce(abs(price_v) >= 1e10, true) THEN 'price_out_of_range'
            WHEN stock_t IS NOT NULL AND coalesce(abs(stock_v) >= 2147483648, true) THEN 'stock_out_of_range'
            WHEN discount_percentage_t IS NOT NULL AND coalesce(abs(discount_percentage_v) >= 1e4, true)
                THEN 'discount_percentage_out_of_range'
            WHEN weight_t IS NOT NULL AND coalesce(abs(weight_v) >= 1e9, true) THEN 'weight_out_of_range'
            WHEN minimum_order_quantity_t IS NOT NULL AND coalesce(abs(minimum_order_quantity_v) >= 2147483648, true)
                THEN 'minimum_order_quantity_out_of_range'
            WHEN ecom_kind(category_j) NOT IN ('null', 'string') THEN 'category_not_text'
            WHEN ecom_kind(title_j) NOT IN ('null', 'string') THEN 'title_not_text'
            WHEN ecom_kind(description_j) NOT IN ('null', 'string') THEN 'description_not_text'
            WHEN ecom_kind(brand_j) NOT IN ('null', 'string') THEN 'brand_not_text'
            WHEN ecom_kind(sku_j) NOT IN ('null', 'string') THEN 'sku_not_text'
            WHEN ecom_kind(availability_status_j) NOT IN ('null', 'string') THEN 'availability_status_not_text'
            WHEN ecom_kind(tags_j) <> 'null' AND NOT coalesce(list_bool_and(list_transform(
                    tag_items_j, lambda t: prefix(t, '"'))), ecom_kind(tags_j) = 'array')
                THEN 'tags_not_text_list'
            -- PostgreSQL text and jsonb cannot hold NUL characters (decoded values: an escaped backslash
            -- followed by `u0000` is text, not NUL)
            WHEN coalesce(contains(title, chr(0)) OR contains(description, chr(0)) OR contains(category_s, chr(0))
                OR contains(brand, chr(0)) OR contains(sku, chr(0)) OR contains(availability_status, chr(0))
                OR list_bool_or(list_transform(tag_items_j, lambda t: contains(t ->> '$', chr(0)))), false)
                THEN 'text_contains_nul'
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
    CASE WHEN reason IS NULL THEN title END AS title,
    CASE WHEN reason IS NULL THEN description END AS description,
    CASE WHEN reason IS NULL THEN coalesce(nullif(ecom_trim(category_s), ''), 'unknown') END AS category,
    CASE WHEN reason IS NULL THEN brand END AS brand,
    CASE WHEN reason IS NULL THEN sku END AS sku,
    CASE WHEN reason IS NULL THEN price_v::DECIMAL(12, 2) END AS price,
    CASE WHEN reason IS NULL THEN discount_percentage_v::DECIMAL(6, 2) END AS discount_percentage,
    CASE WHEN reason IS NULL THEN rating_v::DECIMAL(3, 2) END AS rating,
    CASE WHEN reason IS NULL THEN stock_v::INTEGER END AS stock,
    CASE WHEN reason IS NULL THEN availability_status END AS availability_status,
    CASE WHEN reason IS NULL AND ecom_kind(tags_j) <> 'null' THEN tags_j END AS tags,
    CASE WHEN reason IS NULL THEN weight_v::DECIMAL(12, 3) END AS weight,
    CASE WHEN reason IS NULL THEN minimum_order_quantity_v::INTEGER END AS minimum_order_quantity,
    CASE WHEN reason IS NULL THEN created_at_ts END AS created_at,
    CASE WHEN reason IS NULL THEN updated_at_ts END AS updated_at
FROM checked
