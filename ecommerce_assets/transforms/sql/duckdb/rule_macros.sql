-- Helpers for the ODS rules of every domain. A field arrives as its JSON text `j` (from json_extract; NULL when
-- absent): its kind is read off the first character of `j`, and only a string is unescaped, so no value is
-- parsed twice. That character is compared as a byte prefix (`prefix`), never cut out as a substring: `left(j, 1)`
-- decodes UTF-8 to find the first character, and the rules ask it a few dozen times a record (5 % of their CPU).
CREATE OR REPLACE TEMP MACRO ecom_kind(j) AS CASE
    WHEN j IS NULL OR j = 'null' THEN 'null'
    WHEN prefix(j, '"') THEN 'string'
    WHEN prefix(j, 't') OR prefix(j, 'f') THEN 'boolean'
    WHEN prefix(j, '{') THEN 'object'
    WHEN prefix(j, '[') THEN 'array'
    ELSE 'number'
END;

-- ASCII white space, trimmed from numeric strings and categories (other Unicode spaces are text).
CREATE OR REPLACE TEMP MACRO ecom_trim(s) AS trim(s, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13));

-- The unescaped value of a JSON string; NULL for any other kind (or absent).
CREATE OR REPLACE TEMP MACRO ecom_string(j) AS CASE WHEN prefix(j, '"') THEN j ->> '$' END;

-- The text of a number or numeric string, trimmed; NULL when absent, null or an empty string; '' marks
-- a kind that can never be numeric (boolean, object, array).
CREATE OR REPLACE TEMP MACRO ecom_num_text(j) AS CASE ecom_kind(j)
    WHEN 'null' THEN NULL
    WHEN 'number' THEN j
    WHEN 'string' THEN nullif(ecom_trim(j ->> '$'), '')
    ELSE ''
END;

-- Absent, or a decimal number in the only spelling accepted (JSON's, plus a leading '+', '5.' and '.5')
-- whose magnitude a DOUBLE can hold: no digit separators, hexadecimal, NaN, Infinity or 1e400, whatever a
-- cast would tolerate.
CREATE OR REPLACE TEMP MACRO ecom_is_number(t) AS t IS NULL OR (
    regexp_full_match(t, '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?')
    AND coalesce(isfinite(TRY_CAST(t AS DOUBLE)), false)
);

-- The exact reading of a number that the rules judge (rounded half-up at 28 decimals, NULL at 1e10 or more).
CREATE OR REPLACE TEMP MACRO ecom_exact(t) AS TRY_CAST(t AS DECIMAL(38, 28));

-- A JSON text that holds an escaped UTF-16 surrogate without its partner (after escaped backslashes and
-- well-formed pairs are taken out): text no UTF-8 database can store.
CREATE OR REPLACE TEMP MACRO ecom_lone_surrogate(j) AS regexp_matches(
    regexp_replace(
        replace(j, '\\', ''),
        '\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}', '', 'g'
    ),
    '\\u[dD][89a-fA-F][0-9a-fA-F]{2}'
);

-- Why a record the JSON reader refuses is rejected.
CREATE OR REPLACE TEMP MACRO ecom_undecodable_reason(j) AS
    CASE WHEN ecom_lone_surrogate(j) THEN 'text_invalid_unicode' ELSE 'invalid_json' END;
