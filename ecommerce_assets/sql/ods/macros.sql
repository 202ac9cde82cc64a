-- Helpers for reading one JSON value `v` (from json_extract) as the ODS rules want it.
-- kind: 'null' for absent or JSON null, 'number', 'string', else the JSON type ('boolean', 'object', 'array').
CREATE OR REPLACE TEMP MACRO ecom_kind(v) AS CASE
    WHEN v IS NULL OR json_type(v) = 'NULL' THEN 'null'
    WHEN json_type(v) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN 'number'
    WHEN json_type(v) = 'VARCHAR' THEN 'string'
    ELSE lower(json_type(v))
END;

-- The text of a number or numeric string, trimmed; NULL when absent, null or an empty string.
CREATE OR REPLACE TEMP MACRO ecom_num_text(v) AS CASE ecom_kind(v)
    WHEN 'number' THEN v ->> '$'
    WHEN 'string' THEN nullif(regexp_replace(v ->> '$', '^\s+|\s+$', '', 'g'), '')
END;

-- True when the value is absent/null/empty, a finite number, or a string holding one.
CREATE OR REPLACE TEMP MACRO ecom_num_ok(v) AS
    ecom_kind(v) IN ('null', 'number', 'string') AND (
        ecom_num_text(v) IS NULL
        OR coalesce(isfinite(TRY_CAST(ecom_num_text(v) AS DOUBLE)), false)
    );

-- The exact decimal value; NULL when absent or too large for DECIMAL(38,10).
CREATE OR REPLACE TEMP MACRO ecom_num(v) AS coalesce(
    TRY_CAST(ecom_num_text(v) AS DECIMAL(38, 10)),
    TRY_CAST(TRY_CAST(ecom_num_text(v) AS DOUBLE) AS DECIMAL(38, 10))
);

-- True when the numeric value is present but its magnitude, rounded to the column's scale, reaches `bound`.
CREATE OR REPLACE TEMP MACRO ecom_num_too_big(v, bound) AS
    ecom_num_text(v) IS NOT NULL AND (ecom_num(v) IS NULL OR abs(ecom_num(v)) >= bound);

-- Text fields take JSON strings (or null); anything else is rejected by the rules.
CREATE OR REPLACE TEMP MACRO ecom_text_ok(v) AS ecom_kind(v) IN ('null', 'string');
CREATE OR REPLACE TEMP MACRO ecom_text(v) AS CASE WHEN ecom_kind(v) = 'string' THEN v ->> '$' END;
-- PostgreSQL text cannot hold NUL characters.
CREATE OR REPLACE TEMP MACRO ecom_text_bad(v) AS coalesce(contains(ecom_text(v), chr(0)), false);

-- A timestamp field: absent/null, or a string that parses as a timestamp.
CREATE OR REPLACE TEMP MACRO ecom_ts(v) AS TRY_CAST(ecom_text(v) AS TIMESTAMPTZ);
CREATE OR REPLACE TEMP MACRO ecom_ts_ok(v) AS ecom_kind(v) = 'null' OR ecom_ts(v) IS NOT NULL;
