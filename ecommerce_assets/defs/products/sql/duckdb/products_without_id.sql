-- The records without an integer id, each rejected with its reason. Input view: raw_records(record_index,
-- product_id, record_json). Parameter: $snapshot_date.
SELECT
    $snapshot_date::DATE AS snapshot_date,
    record_index,
    product_id,
    record_json,
    CASE
        WHEN NOT coalesce(try(json_valid(record_json)), false) THEN
            ecom_undecodable_reason(record_json)
        WHEN json_type(record_json) <> 'OBJECT' THEN 'not_an_object'
        WHEN coalesce(json_type(record_json, '$.id'), 'NULL') = 'NULL' THEN 'missing_id'
        ELSE 'id_not_integer'
    END AS reason
FROM raw_records
WHERE product_id IS NULL
