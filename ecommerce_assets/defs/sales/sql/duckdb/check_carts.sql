-- One row per line of every cart that matters after duplicate resolution, with the cart's `reason` (NULL
-- when accepted): a cart that breaks a rule anywhere is rejected whole, with the first rule it breaks, and
-- keeps one row (line_no NULL) carrying its line count. Amounts are judged exactly (to 18 decimals).
-- Input view: raw_records(record_index, cart_id, record_json). Parameter: $snapshot_date.
WITH repeated AS (
    -- An id listed twice: the later record wins, valid or not. Only ids that repeat are grouped and joined
    -- (few, usually none), so the tables built stay small however large the snapshot.
    SELECT cart_id, max(record_index) AS latest FROM raw_records WHERE cart_id IS NOT NULL GROUP BY cart_id HAVING count(*) > 1
),
superseded AS (
    SELECT r.record_index FROM raw_records AS r JOIN repeated AS d ON r.cart_id = d.cart_id AND r.record_index < d.latest
),
parsed AS (
    SELECT r.record_index, r.cart_id, r.record_json,
           try(json_extract(r.record_json, ['$.id', '$.userId', '$.products', '$.total', '$.discountedTotal'])::VARCHAR[]) AS j
    FROM raw_records AS r
    WHERE r.record_index NOT IN (SELECT record_index FROM superseded)
),
carts AS (
    SELECT
        record_index, cart_id, record_json,
        j IS NULL AS undecodable,
        coalesce(json_type(try(record_json::JSON)), 'NULL') AS record_type,
        j[1] AS id_j, j[2] AS user_j,
        CASE WHEN prefix(j[3], '[') THEN json_extract(j[3], '$[*]')::VARCHAR[] END AS items,
        ecom_num_text(j[4]) AS total_t,
        ecom_num_text(j[5]) AS discounted_total_t
    FROM parsed
),
lines AS (
    SELECT record_index, unnest(items) AS line_j, unnest(range(1, len(items) + 1)) AS line_no
    FROM carts
    WHERE items IS NOT NULL
),
line_fields AS (
    SELECT record_index, line_no::INTEGER AS line_no, ecom_kind(line_j) AS kind,
           json_extract(line_j, ['$.id', '$.title', '$.price', '$.quantity', '$.total', '$.discountPercentage',
                                 '$.discountedTotal'])::VARCHAR[] AS f
    FROM lines
),
line_values AS (
    SELECT
        record_index, line_no, kind,
        f[1] AS product_j, f[2] AS title_j,
        ecom_string(f[2]) AS title,
        ecom_num_text(f[3]) AS price_t,
        ecom_num_text(f[4]) AS quantity_t,
        ecom_num_text(f[5]) AS total_t,
        ecom_num_text(f[6]) AS discount_percentage_t,
        ecom_num_text(f[7]) AS discounted_total_t
    FROM line_fields
),
line_checked AS (
    SELECT
        *,
        TRY_CAST(price_t AS DECIMAL(38, 18)) AS price_x,
        TRY_CAST(total_t AS DECIMAL(38, 18)) AS total_x,
        TRY_CAST(discounted_total_t AS DECIMAL(38, 18)) AS discounted_total_x,
        CASE
            WHEN kind <> 'object' THEN 'line_not_an_object'
            WHEN ecom_kind(product_j) = 'null' THEN 'product_id_missing'
            WHEN NOT (ecom_kind(product_j) = 'number' AND regexp_full_match(product_j, '-?[0-9]+')
                      AND TRY_CAST(product_j AS BIGINT) IS NOT NULL) THEN 'product_id_not_integer'
            WHEN ecom_kind(title_j) NOT IN ('null', 'string') THEN 'title_not_text'
            WHEN coalesce(contains(title, chr(0)), false) THEN 'text_contains_nul'
            WHEN price_t IS NULL THEN 'price_missing'
            WHEN NOT ecom_is_number(price_t) THEN 'price_not_numeric'
            WHEN quantity_t IS NULL THEN 'quantity_missing'
            WHEN NOT ecom_is_number(quantity_t) THEN 'quantity_not_numeric'
            WHEN total_t IS NULL THEN 'total_missing'
            WHEN NOT ecom_is_number(total_t) THEN 'total_not_numeric'
            WHEN discounted_total_t IS NULL THEN 'discounted_total_missing'
            WHEN NOT ecom_is_number(discounted_total_t) THEN 'discounted_total_not_numeric'
            WHEN NOT ecom_is_number(discount_percentage_t) THEN 'discount_percentage_not_numeric'
            WHEN coalesce(ecom_exact(price_t) < 0, TRY_CAST(price_t AS DOUBLE) < 0) THEN 'price_negative'
            WHEN TRY_CAST(quantity_t AS DOUBLE) >= 2147483648 THEN 'quantity_out_of_range'
            WHEN NOT coalesce(ecom_exact(quantity_t) = floor(ecom_exact(quantity_t)) AND ecom_exact(quantity_t) >= 1, false)
                THEN 'quantity_not_whole'
            WHEN coalesce(abs(TRY_CAST(price_t AS DECIMAL(38, 2))) >= 1e10, true) THEN 'price_out_of_range'
            WHEN coalesce(abs(TRY_CAST(total_t AS DECIMAL(38, 2))) >= 1e12, true) THEN 'total_out_of_range'
            WHEN coalesce(abs(TRY_CAST(discounted_total_t AS DECIMAL(38, 2))) >= 1e12, true)
                THEN 'discounted_total_out_of_range'
            WHEN discount_percentage_t IS NOT NULL AND coalesce(abs(TRY_CAST(discount_percentage_t AS DECIMAL(38, 2))) >= 1e3, true)
                THEN 'discount_percentage_out_of_range'
            WHEN coalesce(try(abs(TRY_CAST(total_t AS DECIMAL(38, 18))
                              - TRY_CAST(price_t AS DECIMAL(38, 18)) * TRY_CAST(quantity_t AS DECIMAL(38, 0)))) > 0.01, true)
                THEN 'line_total_mismatch'
        END AS reason
    FROM line_values
),
line_sums AS (
    SELECT
        record_index,
        count(*) AS lines,
        sum(total_x) AS lines_total,
        sum(discounted_total_x) AS lines_discounted_total,
        arg_min(reason, line_no) FILTER (WHERE reason IS NOT NULL) AS line_reason
    FROM line_checked
    GROUP BY record_index
),
checked AS (
    SELECT
        c.record_index, c.cart_id, c.record_json, c.user_j,
        coalesce(s.lines, 0)::INTEGER AS lines,
        CASE
            WHEN c.undecodable THEN ecom_undecodable_reason(c.record_json)
            WHEN c.record_type <> 'OBJECT' THEN 'not_an_object'
            WHEN c.cart_id IS NULL AND ecom_kind(c.id_j) = 'null' THEN 'missing_id'
            WHEN c.cart_id IS NULL THEN 'id_not_integer'
            -- an object naming `id` more than once, with different values (readers disagree on which wins)
            WHEN NOT coalesce(regexp_full_match(c.id_j, '-?[0-9]+') AND TRY_CAST(c.id_j AS BIGINT) = c.cart_id, false)
                THEN 'id_ambiguous'
            WHEN ecom_kind(c.user_j) = 'null' THEN 'user_id_missing'
            WHEN NOT (ecom_kind(c.user_j) = 'number' AND regexp_full_match(c.user_j, '-?[0-9]+')
                      AND TRY_CAST(c.user_j AS BIGINT) IS NOT NULL) THEN 'user_id_not_integer'
            WHEN c.items IS NULL THEN 'lines_not_a_list'
            WHEN len(c.items) = 0 THEN 'lines_empty'
            WHEN s.line_reason IS NOT NULL THEN s.line_reason
            WHEN c.total_t IS NULL OR NOT ecom_is_number(c.total_t) THEN 'cart_total_not_numeric'
            WHEN c.discounted_total_t IS NULL OR NOT ecom_is_number(c.discounted_total_t)
                THEN 'cart_discounted_total_not_numeric'
            WHEN coalesce(abs(TRY_CAST(c.total_t AS DECIMAL(38, 18)) - s.lines_total) > 0.01 * s.lines, true)
                THEN 'cart_total_mismatch'
            WHEN coalesce(abs(TRY_CAST(c.discounted_total_t AS DECIMAL(38, 18)) - s.lines_discounted_total) > 0.01 * s.lines, true)
                THEN 'cart_discounted_total_mismatch'
        END AS reason
    FROM carts AS c
    LEFT JOIN line_sums AS s USING (record_index)
)
SELECT
    $snapshot_date::DATE AS snapshot_date,
    c.record_index,
    c.cart_id,
    c.reason,
    c.lines,
    CASE WHEN c.reason IS NOT NULL THEN c.record_json END AS record_json,  -- kept for rejected carts only
    l.line_no,
    TRY_CAST(c.user_j AS BIGINT) AS user_id,
    TRY_CAST(l.product_j AS BIGINT) AS product_id,
    l.title,
    TRY_CAST(l.price_t AS DECIMAL(12, 2)) AS price,
    TRY_CAST(TRY_CAST(l.quantity_t AS DECIMAL(38, 0)) AS INTEGER) AS quantity,
    TRY_CAST(l.total_t AS DECIMAL(14, 2)) AS total,
    TRY_CAST(l.discount_percentage_t AS DECIMAL(5, 2)) AS discount_percentage,
    TRY_CAST(l.discounted_total_t AS DECIMAL(14, 2)) AS discounted_total
FROM checked AS c
LEFT JOIN line_checked AS l ON l.record_index = c.record_index AND c.reason IS NULL
