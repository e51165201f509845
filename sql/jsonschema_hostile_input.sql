-- Hostile schemas and instances end in clear errors or verdicts, never a
-- crash or a hang.
SET search_path = candystore, public;

-- $ref loops that never consume the instance are caught.
SELECT jsonb_matches_schema('{"$ref": "#"}', '1');
SELECT jsonb_matches_schema('{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                              "$ref": "#/$defs/a"}', '{}');
-- ... but recursion that descends into the instance is fine.
SELECT jsonb_matches_schema('{"type": "array", "items": {"$ref": "#"}}', '[[[[]]], []]') AS recursive_ok;

-- Invalid and unsupported patterns are errors, with the pattern named.
SELECT jsonb_matches_schema('{"pattern": "(unclosed"}', '"x"');
SELECT jsonb_matches_schema('{"pattern": "\\p{Unknown_Property}"}', '"$"');
-- A pattern that backtracks exponentially stops at
-- candystore.jsonschema_pattern_match_limit: an error (22V04), never an answer.
SELECT jsonb_matches_schema('{"pattern": "^(a+)+$"}', to_jsonb(repeat('a', 5000) || 'b')) AS catastrophic;
SELECT jsonb_matches_schema('{"pattern": "^(a+)+$"}', to_jsonb(repeat('a', 5000))) AS linear;

-- Deep nesting: a 2000-level instance validates; a deeper schema hits the
-- stack limit cleanly.
SELECT jsonb_matches_schema('{"items": {"$ref": "#"}}',
                            (repeat('[', 2000) || repeat(']', 2000))::jsonb) AS deep_instance;
CREATE TEMP TABLE deep AS SELECT (repeat('{"not": ', 3000) || '{}' || repeat('}', 3000))::jsonb AS s;
SET max_stack_depth = '200kB';
SELECT jsonb_matches_schema(s, '1') FROM deep;
RESET max_stack_depth;

-- Statement timeouts interrupt long validations.
SET statement_timeout = '200ms';
SELECT jsonb_matches_schema('{"uniqueItems": true}', jsonb_agg(i)) FROM generate_series(1, 200000) i;
RESET statement_timeout;

-- Non-integer and negative counts are invalid schemas; huge ones are fine.
SELECT jsonb_matches_schema('{"minLength": 1.5}', '"x"');
SELECT jsonb_matches_schema('{"maxItems": -1}', '[]');
SELECT jsonb_matches_schema('{"maxLength": 1e30}', '"x"') AS huge_count;
