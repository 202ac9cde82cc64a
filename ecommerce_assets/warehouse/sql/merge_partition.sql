-- Upsert the staged partition; rows whose values did not change are not rewritten.
WITH written AS (
    INSERT INTO {target} AS t ({columns})
    SELECT {typed_columns} FROM {stage} AS s
    ON CONFLICT ({key_columns}) DO UPDATE
    SET {assignments}
    WHERE ({target_values}) IS DISTINCT FROM ({excluded_values})
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
