-- What a raw snapshot of carts lists, counted on its own: records, the lines of every record (the length of
-- its `products` list when it is one), and the lines of records superseded by a later record of the same
-- cart. Input view: raw_records(record_index, cart_id, record_json).
WITH counted AS (
    SELECT
        record_index,
        cart_id,
        coalesce(try(CASE WHEN json_type(record_json, '$.products') = 'ARRAY'
                          THEN json_array_length(record_json, '$.products') END), 0) AS lines,
        record_index < max(record_index) OVER (PARTITION BY cart_id) AND cart_id IS NOT NULL AS superseded
    FROM raw_records
)
SELECT count(*), coalesce(sum(lines), 0), coalesce(sum(lines) FILTER (WHERE superseded), 0) FROM counted
