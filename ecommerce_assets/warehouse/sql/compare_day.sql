-- How a staged day differs from the stored partition, by primary key: rows only in the stage (inserted),
-- in both with other values (updated), only in the partition (deleted).
SELECT count(*) FILTER (WHERE t.{first_key} IS NULL),
       count(*) FILTER (WHERE s.{first_key} IS NOT NULL AND t.{first_key} IS NOT NULL
                          AND ({stage_values}) IS DISTINCT FROM ({target_values})),
       count(*) FILTER (WHERE s.{first_key} IS NULL)
FROM {day_table} AS s FULL JOIN {partition} AS t ON {key_match}
