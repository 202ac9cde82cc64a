-- One row per reduced user record that matters after duplicate resolution, with `reason` NULL when accepted.
-- Input view: raw_records(record_index, user_id, record_json) — records as the raw layer keeps users:
-- reduced to id, age, gender, role, city, state, country and customer_key. Parameter: $snapshot_date.
WITH repeated AS (
    -- An id listed twice: the later record wins, valid or not. Only ids that repeat are grouped and joined
    -- (few, usually none), so the tables built stay small however large the snapshot.
    SELECT user_id, max(record_index) AS latest FROM raw_records WHERE user_id IS NOT NULL GROUP BY user_id HAVING count(*) > 1
),
superseded AS (
    SELECT r.record_index FROM raw_records AS r JOIN repeated AS d ON r.user_id = d.user_id AND r.record_index < d.latest
),
parsed AS (
    SELECT r.record_index, r.user_id,
           try(json_extract(r.record_json, ['$.problem', '$.id', '$.age', '$.gender', '$.role', '$.city', '$.state',
                                            '$.country', '$.customer_key'])::VARCHAR[]) AS j
    FROM raw_records AS r
    WHERE r.record_index NOT IN (SELECT record_index FROM superseded)
),
fields AS (
    SELECT
        record_index, user_id, j IS NULL AS undecodable,
        j[1] ->> '$' AS problem, j[2] AS id_j, j[3] AS age_j,
        j[4] AS gender_j, j[5] AS role_j, j[6] AS city_j, j[7] AS state_j, j[8] AS country_j, j[9] AS key_j,
        ecom_string(j[4]) AS gender,
        ecom_string(j[5]) AS role,
        ecom_string(j[6]) AS city,
        ecom_string(j[7]) AS state,
        ecom_string(j[8]) AS country,
        ecom_string(j[9]) AS customer_key,
        ecom_num_text(j[3]) AS age_t
    FROM parsed
),
checked AS (
    SELECT
        *,
        CASE
            WHEN undecodable THEN 'invalid_json'
            WHEN problem IS NOT NULL THEN problem
            WHEN user_id IS NULL AND ecom_kind(id_j) = 'null' THEN 'missing_id'
            WHEN user_id IS NULL THEN 'id_not_integer'
            WHEN NOT coalesce(regexp_full_match(id_j, '-?[0-9]+') AND TRY_CAST(id_j AS BIGINT) = user_id, false)
                THEN 'id_ambiguous'
            WHEN NOT ecom_is_number(age_t) THEN 'age_not_numeric'
            WHEN NOT coalesce(TRY_CAST(age_t AS DOUBLE) BETWEEN 0 AND 150, age_t IS NULL) THEN 'age_out_of_range'
            WHEN NOT coalesce(ecom_exact(age_t) = floor(ecom_exact(age_t)), age_t IS NULL) THEN 'age_not_whole'
            WHEN ecom_kind(gender_j) NOT IN ('null', 'string') THEN 'gender_not_text'
            WHEN ecom_kind(role_j) NOT IN ('null', 'string') THEN 'role_not_text'
            WHEN ecom_kind(city_j) NOT IN ('null', 'string') THEN 'city_not_text'
            WHEN ecom_kind(state_j) NOT IN ('null', 'string') THEN 'state_not_text'
            WHEN ecom_kind(country_j) NOT IN ('null', 'string') THEN 'country_not_text'
            WHEN coalesce(contains(gender, chr(0)) OR contains(role, chr(0)) OR contains(city, chr(0))
                          OR contains(state, chr(0)) OR contains(country, chr(0)), false) THEN 'text_contains_nul'
            WHEN ecom_kind(key_j) <> 'null' AND NOT coalesce(regexp_full_match(customer_key, '[0-9a-f]{64}'), false)
                THEN 'customer_key_invalid'
        END AS reason
    FROM fields
)
SELECT
    $snapshot_date::DATE AS snapshot_date,
    record_index,
    user_id,
    reason,
    CASE WHEN reason IS NULL THEN customer_key END AS customer_key,
    CASE WHEN reason IS NULL THEN TRY_CAST(TRY_CAST(age_t AS DECIMAL(38, 0)) AS INTEGER) END AS age,
    CASE WHEN reason IS NULL THEN gender END AS gender,
    CASE WHEN reason IS NULL THEN role END AS role,
    CASE WHEN reason IS NULL THEN city END AS city,
    CASE WHEN reason IS NULL THEN state END AS state,
    CASE WHEN reason IS NULL THEN country END AS country
FROM checked
