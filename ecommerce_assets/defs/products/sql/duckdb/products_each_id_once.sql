-- The records with an integer id, each id once: of an id listed twice the later record wins, valid or not.
-- Only ids that repeat are grouped and joined (few, usually none), so the tables built stay small however large
-- the snapshot (a join on every record's position ran out of DuckDB's memory at 5M records); the JSON streams
-- past them. Input view: raw_records(record_index, product_id, record_json).
WITH repeated AS (
    SELECT product_id, max(record_index) AS latest FROM raw_records WHERE product_id IS NOT NULL GROUP BY product_id HAVING count(*) > 1
),
superseded AS (
    SELECT r.record_index FROM raw_records AS r JOIN repeated AS d ON r.product_id = d.product_id AND r.record_index < d.latest
)
SELECT r.record_index, r.product_id, r.record_json
FROM raw_records AS r
ANTI JOIN superseded AS s ON r.record_index = s.record_index
WHERE r.product_id IS NOT NULL
