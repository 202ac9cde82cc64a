-- Stored rows of one ODS partition that break rules the table's constraints do not enforce.
SELECT
    count(*) FILTER (WHERE category <> btrim(category, E' \t\n\x0B\f\r')) AS untrimmed_category,
    count(*) FILTER (
        WHERE tags IS NOT NULL
          AND (jsonb_typeof(tags) <> 'array' OR jsonb_path_exists(tags, '$[*] ? (@.type() != "string")'))
    ) AS tags_not_text_list
FROM ods.fct_products
WHERE snapshot_date = %(partition)s
