-- jsonb_matches_schema decides most schemas on a fast path (plan.c) and
-- explains failures with the full validator (validate.c).  The two must
-- agree: a document is valid exactly when it has no error rows.  The cases
-- aim at what the fast path does differently: property/required merging in
-- jsonb key order, numeric signs read from the stored header, remembered
-- pattern verdicts, settings read at validation time, one call site seeing
-- many schemas, and the hand-over to validate.c ($ref loops, unevaluated*).
SET search_path = candystore, public;
\i sql/helpers/expect_error.sql

CREATE TEMP TABLE cases (name text, schema jsonb, doc jsonb);
INSERT INTO cases VALUES
  -- required names shorter, longer and between the document's keys
  ('required all present', '{"required": ["b", "aa", "ccc"]}', '{"aa": 1, "b": 2, "ccc": 3, "d": 4}'),
  ('required first missing', '{"required": ["a", "bb"]}', '{"bb": 1, "c": 2}'),
  ('required last missing', '{"required": ["a", "zzzz"]}', '{"a": 1, "bb": 2}'),
  ('required middle missing', '{"required": ["a", "bb", "ccc"], "properties": {"ccc": {}}}', '{"a": 1, "ccc": 2}'),
  ('required beside properties', '{"properties": {"x": {"type": "string"}}, "required": ["y"]}', '{"x": "s", "y": null}'),
  ('required duplicate names', '{"required": ["a", "a"]}', '{"a": 1}'),
  ('required on an empty object', '{"required": ["a"]}', '{}'),
  -- keys compared a word at a time: long keys, differences inside a word, bytes above 0x7F
  ('required long keys present', '{"required": ["abcdefgh1", "abcdefgh2zz", "abcdefghij", "zbcdefgh1"], "properties": {"abcdefgi1": {"type": "integer"}}}', '{"abcdefgh1": 1, "abcdefgi1": 2, "abcdefghij": 3, "zbcdefgh1": 4, "abcdefgh2zz": 5}'),
  ('required long key missing', '{"required": ["abcdefgh1", "abcdefgh3"]}', '{"abcdefgh1": 1, "abcdefgh2": 2, "abcdefgh4": 3}'),
  ('property long key fails', '{"properties": {"abcdefghijkl": {"type": "string"}, "abcdefghijkm": {"type": "string"}}}', '{"abcdefghijkl": "x", "abcdefghijkm": 1}'),
  ('required keys above 0x7f', '{"required": ["éaaaaaaz", "zaaaaaaaa", "éab", "zabc"]}', '{"zabc": 1, "éab": 2, "zaaaaaaaa": 3, "éaaaaaaz": 4}'),
  ('required key above 0x7f missing', '{"required": ["éaaaaaaz"], "properties": {"zaaaaaaaa": {}}}', '{"zaaaaaaaa": 1, "\u00ffaaaaaaz": 2}'),
  ('required short key above 0x7f missing', '{"required": ["éab"], "properties": {"zabc": {}}}', '{"zabc": 1, "\u00ffab": 2}'),
  ('properties then additional', '{"properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}}', '{"a": 1, "b": "x", "ccc": "y"}'),
  ('additional property refused', '{"properties": {"a": {}}, "additionalProperties": false}', '{"a": 1, "b": 2}'),
  ('property schema fails', '{"properties": {"bb": {"type": "string"}}}', '{"a": 1, "bb": 2}'),
  -- numbers: zero limits are decided from the stored sign
  ('minimum 0 with 0', '{"minimum": 0}', '0'),
  ('minimum 0 with -0.0', '{"minimum": 0}', '-0.0'),
  ('minimum 0 with tiny negative', '{"minimum": 0}', '-0.0000000000000000000000000000000000000000000000000000000000000000000001'),
  ('minimum 0 with huge negative', '{"minimum": 0}', '-1e300'),
  ('minimum 0 with tiny positive', '{"minimum": 0}', '1e-100'),
  ('exclusiveMinimum 0 with 0', '{"exclusiveMinimum": 0}', '0.000'),
  ('exclusiveMaximum 0 with -1', '{"exclusiveMaximum": 0}', '-1'),
  ('maximum -2.5 with -2.4', '{"maximum": -2.5}', '-2.4'),
  ('minimum -2.5 with -2.5', '{"minimum": -2.5}', '-2.5'),
  ('draft 4 exclusive maximum', '{"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 0, "exclusiveMaximum": true}', '0'),
  ('integer 1.0', '{"type": "integer"}', '1.0'),
  ('integer 1.5', '{"type": "integer"}', '1.5'),
  ('integer 1e300', '{"type": "integer"}', '1e300'),
  ('multipleOf 0 never', '{"multipleOf": 0}', '0'),
  -- patterns
  ('pattern match', '{"pattern": "^[a-z]+(\\.[a-z]+)+$"}', '"fireflies.transcript"'),
  ('pattern no match', '{"pattern": "^[a-z]+(\\.[a-z]+)+$"}', '"fireflies"'),
  ('pattern with back-reference', '{"pattern": "^(a+)b\\1$"}', '"aabaa"'),
  ('pattern back-reference fails', '{"pattern": "^(a+)b\\1$"}', '"aaba"'),
  ('patternProperties', '{"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false}', '{"x-a": "1", "x-b": 2}'),
  -- arrays
  ('prefixItems then items', '{"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}', '["a", 1, 2]'),
  ('items as array, draft 7', '{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}], "additionalItems": false}', '["a", 1]'),
  ('contains with maxContains', '{"contains": {"type": "integer"}, "maxContains": 1}', '[1, "a", 2]'),
  ('uniqueItems', '{"uniqueItems": true}', '[{"a": 1}, {"a": 1.0}]'),
  -- applicators and references
  ('oneOf two match', '{"oneOf": [{"type": "integer"}, {"minimum": 0}]}', '3'),
  ('if then else', '{"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"type": "integer"}}', '"ab"'),
  ('local $ref', '{"$defs": {"s": {"type": "string", "format": "uuid"}}, "properties": {"id": {"$ref": "#/$defs/s"}}}', '{"id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1"}'),
  ('recursive $ref', '{"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}, "additionalProperties": false}', '{"kids": [{"kids": []}, {"kids": [{"name": 1}]}]}'),
  ('unevaluatedProperties (full validator)', '{"properties": {"a": {}}, "unevaluatedProperties": false}', '{"a": 1, "b": 2}'),
  ('strings count characters', '{"minLength": 3, "maxLength": 3}', '"äöü"'),
  ('format uuid', '{"format": "uuid"}', '"not-a-uuid"');

SELECT name,
       jsonb_matches_schema(schema, doc) AS valid,
       jsonb_matches_schema(schema, doc) =
           NOT EXISTS (SELECT FROM jsonschema_validation_errors(schema, doc)) AS agrees
FROM cases ORDER BY name;

-- A pattern remembers recent verdicts: 200 distinct strings, each checked
-- three times, give the verdicts the full validator gives.
SELECT count(*) AS checks,
       count(*) FILTER (WHERE jsonb_matches_schema('{"pattern": "^v[0-9]*7$"}', to_jsonb(s))) AS matched,
       count(*) FILTER (WHERE jsonb_matches_schema('{"pattern": "^v[0-9]*7$"}', to_jsonb(s)) =
                        NOT EXISTS (SELECT FROM jsonschema_validation_errors('{"pattern": "^v[0-9]*7$"}', to_jsonb(s))))
           AS agree
FROM generate_series(1, 200) g, generate_series(1, 3) r, LATERAL (SELECT 'v' || g AS s) x;

-- One call site, a different schema on every row: each row gets its own.
SELECT n, jsonb_matches_schema(jsonb_build_object('maximum', n), '5') AS five_le_n
FROM generate_series(3, 7) n ORDER BY n;

-- Settings are read when validating, not when the schema was compiled.
SET candystore.jsonschema_format_assertion = off;
SELECT jsonb_matches_schema('{"format": "uuid"}', '"not-a-uuid"') AS format_as_annotation;
RESET candystore.jsonschema_format_assertion;
SELECT jsonb_matches_schema('{"format": "uuid"}', '"not-a-uuid"') AS format_asserted;

-- A $ref loop that consumes nothing is still an error, not a verdict.
SELECT pg_temp.expect_error($$SELECT candystore.jsonb_matches_schema('{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}', '1')$$) AS ref_loop;
SELECT pg_temp.expect_error($$SELECT candystore.jsonb_matches_schema('{"properties": {"a": {"$ref": "https://nowhere.example/s.json"}}}', '{"a": 1}')$$) AS unresolvable;
