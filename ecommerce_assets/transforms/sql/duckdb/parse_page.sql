-- One answer of a paginated endpoint (GET /products, /carts, /users), parsed once by DuckDB's JSON reader:
-- the document's shape, `total`, and each record as JSON text (key order, value types and even
-- out-of-range numbers kept) with its id when that is an integer that fits BIGINT. Parameter: $body (the
-- response body as text). `$.records` is replaced by the endpoint's records key before it runs.
WITH doc AS (SELECT $body::JSON AS j)
SELECT
    json_type(j) AS doc_type,
    json_type(j, '$.total') AS total_type,
    j ->> '$.total' AS total,
    json_type(j, '$.records') AS records_type,
    list_transform(
        json_extract(j, '$.records[*]'),
        lambda rec: {
            'record_id': CASE WHEN json_type(rec, '$.id') IN ('BIGINT', 'UBIGINT')
                              THEN TRY_CAST(rec ->> '$.id' AS BIGINT) END,
            'record_json': rec::VARCHAR
        }
    ) AS records
FROM doc
