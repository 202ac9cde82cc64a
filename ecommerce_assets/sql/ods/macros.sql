-- Helpers for the ODS rules. A field arrives as its JSON text `j` (from json_extract; NULL when absent)
-- and, for strings, its unescaped value `s` (from json_extract_string): its kind is read off the first
-- character of `j`, so no value is parsed twice.
CREATE OR REPLACE TEMP MACRO ecom_kind(j) AS CASE
    WHEN j IS NULL OR j = 'null' THEN 'null'
    WHEN left(j, 1) = '"' THEN 'string'
    WHEN left(j, 1) IN ('t', 'f') THEN 'boolean'
    WHEN left(j, 1) = '{' THEN 'object'
    WHEN left(j, 1) = '[' THEN 'array'
    ELSE 'number'
END;

-- ASCII white space, trimmed from numeric strings and categories.
CREATE OR REPLACE TEMP MACRO ecom_trim(s) AS trim(s, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13));

-- The text of a number or numeric string, trimmed; NULL when absent, null or an empty string; '' marks
-- a kind that can never be numeric (boolean, object, array).
CREATE OR REPLACE TEMP MACRO ecom_num_text(j, s) AS CASE ecom_kind(j)
    WHEN 'null' THEN NULL
    WHEN 'number' THEN j
    WHEN 'string' THEN nullif(ecom_trim(s), '')
    ELSE ''
END;
