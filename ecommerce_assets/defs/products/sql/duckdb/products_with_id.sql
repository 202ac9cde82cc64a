-- The records with an integer id, in the snapshot's order: each id once when the ids strictly ascend, which
-- the caller checks first. Input view: raw_records(record_index, product_id, record_json).
SELECT record_index, product_id, record_json FROM raw_records WHERE product_id IS NOT NULL
