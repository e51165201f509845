-- JSON Schema validation through the SQL API: verdicts, error rows, formats,
-- JSON equality and exact decimal arithmetic.
SET search_path = candystore, public;

-- Plain verdicts; 2020-12 when $schema is absent.
SELECT jsonb_matches_schema('{"type": "object", "required": ["id"]}', '{"id": 1}') AS has_id,
       jsonb_matches_schema('{"type": "object", "required": ["id"]}', '{}') AS missing_id,
       jsonb_matches_schema('true', '[1, "x"]') AS true_schema,
       jsonb_matches_schema('false', 'null') AS false_schema;

-- JSON equality: 1 and 1.0 are the same number for const, enum, uniqueItems.
SELECT jsonb_matches_schema('{"const": 1}', '1.0') AS const_1_is_1_0,
       jsonb_matches_schema('{"enum": [[1, {"a": 2}]]}', '[1.00, {"a": 2.0}]') AS enum_nested,
       jsonb_matches_schema('{"uniqueItems": true}', '[1, 1.0]') AS unique_1_and_1_0,
       jsonb_matches_schema('{"enum": [false]}', '0') AS false_is_not_0;

-- multipleOf is exact decimal arithmetic (a binary float says 19.99 is no multiple of 0.01).
SELECT jsonb_matches_schema('{"multipleOf": 0.01}', '19.99') AS cents,
       jsonb_matches_schema('{"multipleOf": 0.01}', '19.999') AS fraction_of_cent,
       jsonb_matches_schema('{"type": "integer"}', '3.0') AS three_point_zero_is_integer,
       jsonb_matches_schema('{"maximum": 1e400}', '1e399') AS huge_numbers;

-- Every failure is one row, with JSON Pointers into instance and schema.
SELECT * FROM jsonschema_validation_errors(
    '{"type": "object",
      "properties": {"id": {"type": "string", "format": "uuid"},
                     "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
      "required": ["id", "at"],
      "additionalProperties": false}',
    '{"id": "nope", "tags": ["a", 2, "c"], "extra/field": true}')
ORDER BY instance_path, keyword;

-- A valid instance gives no rows.
SELECT count(*) AS no_errors FROM jsonschema_validation_errors('{"type": "string"}', '"x"');

-- Formats are asserted by default (the envelope relies on uuid and date-time) ...
SELECT jsonb_matches_schema('{"format": "date-time"}', '"2026-01-27T10:15:00.123456Z"') AS datetime_ok,
       jsonb_matches_schema('{"format": "date-time"}', '"2026-01-27 10:15"') AS datetime_bad,
       jsonb_matches_schema('{"format": "uuid"}', '"0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1"') AS uuid_ok,
       jsonb_matches_schema('{"format": "email"}', '"a@b"') AS email_no_dot_ok,
       jsonb_matches_schema('{"format": "ipv4"}', '"192.168.001.1"') AS ipv4_leading_zero,
       jsonb_matches_schema('{"format": "duration"}', '"P1Y2M"') AS duration_ok,
       jsonb_matches_schema('{"format": "no-such-format"}', '"x"') AS unknown_format_passes;
-- ... and only annotations when the setting says so.
SET candystore.jsonschema_format_assertion = off;
SELECT jsonb_matches_schema('{"format": "uuid"}', '"nope"') AS uuid_annotation_only;
RESET candystore.jsonschema_format_assertion;

-- Drafts by $schema, or by candystore.jsonschema_default_draft when absent:
-- array-form "items" is a tuple up to 2019-09 and not a schema in 2020-12.
SELECT jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-07/schema#",
                              "items": [{"type": "integer"}], "additionalItems": false}', '[1]') AS draft7_tuple,
       jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-04/schema#",
                              "maximum": 5, "exclusiveMaximum": true}', '5') AS draft4_exclusive_bool;
SET candystore.jsonschema_default_draft = '7';
SELECT jsonb_matches_schema('{"items": [{"type": "integer"}]}', '[1, "x"]') AS default_draft7_tuple;
RESET candystore.jsonschema_default_draft;

-- unevaluatedProperties sees what allOf/$ref/if evaluated.
SELECT jsonb_matches_schema(s, '{"a": 1, "b": 2}') AS ab, jsonb_matches_schema(s, '{"a": 1, "c": 3}') AS ac
FROM (VALUES ('{"allOf": [{"properties": {"a": true}}], "properties": {"b": true},
                "unevaluatedProperties": false}'::jsonb)) v(s);

-- ECMA-262 patterns: \d is ASCII only, "." stops at line ends, \p{L} is Unicode.
SELECT jsonb_matches_schema('{"pattern": "^\\d+$"}', '"123"') AS ascii_digits,
       jsonb_matches_schema('{"pattern": "^\\d+$"}', '"١٢٣"') AS arabic_digits_are_not_d,
       jsonb_matches_schema('{"pattern": "^a.b$"}', '"a\nb"') AS dot_not_newline,
       jsonb_matches_schema('{"pattern": "^\\p{L}+$"}', '"éłø"') AS unicode_letters,
       jsonb_matches_schema('{"patternProperties": {"^x-": {"type": "string"}}}', '{"x-a": 1}') AS pattern_properties;

-- Schemas against their draft's meta-schema.
SELECT jsonschema_is_valid('{"type": "string", "minLength": 1}') AS good,
       jsonschema_is_valid('{"type": "strin"}') AS bad_type_name,
       jsonschema_is_valid('{"minLength": -1}') AS negative_length,
       jsonschema_is_valid('{"$schema": "http://json-schema.org/draft-04/schema#", "exclusiveMinimum": true, "minimum": 1}') AS draft4_ok,
       jsonschema_is_valid('{"$schema": "http://json-schema.org/draft-06/schema#", "exclusiveMinimum": true}') AS draft6_bool_exclusive;

-- A schema must be an object or a boolean.
SELECT jsonb_matches_schema('[]', '1');
SELECT jsonb_matches_schema('{"properties": {"a": 3}}', '{"a": 1}');
