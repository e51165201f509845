-- Draft-04 schemas that use keywords later drafts added (const, contains,
-- propertyNames, if/then/else).  Draft 4 does not define them, so by default
-- (candystore.jsonschema_draft4_later_keywords = ignore) they are unknown
-- words, as the specification says; honour applies them as ajv does.  The
-- schema is shaped like Azure Functions' function.json schema in SchemaStore
-- (draft-04; each binding a oneOf branch told apart by "type": {"const": …}),
-- and its example files get opposite answers the two ways.
\i sql/helpers/expect_error.sql
SET search_path = candystore, public;
CREATE TEMP TABLE fn(schema jsonb);
INSERT INTO fn VALUES ('{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["bindings"],
  "properties": {
    "disabled": {"type": "boolean"},
    "bindings": {"type": "array", "items": {"oneOf": [
      {"$ref": "#/definitions/httpTrigger"},
      {"$ref": "#/definitions/queueTrigger"}]}}
  },
  "definitions": {
    "httpTrigger": {"type": "object", "required": ["type", "name"],
      "properties": {"type": {"const": "httpTrigger"}, "direction": {"const": "in"},
                     "name": {"type": "string"},
                     "authLevel": {"enum": ["anonymous", "function", "admin"]},
                     "methods": {"type": "array", "items": {"type": "string"},
                                 "contains": {"enum": ["get", "post"]}}}},
    "queueTrigger": {"type": "object", "required": ["type", "name", "queueName"],
      "properties": {"type": {"const": "queueTrigger"}, "direction": {"const": "in"},
                     "name": {"type": "string"}, "queueName": {"type": "string"}}}
  }}');
-- function.json files: two of the shapes the schema's examples show, and
-- three a function host would refuse (an unknown binding type, a wrong
-- direction, no usable method).
CREATE TEMP TABLE files(name text, doc jsonb);
INSERT INTO files VALUES
  ('http trigger', '{"bindings": [
      {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": ["get", "post"]}]}'),
  ('queue trigger', '{"bindings": [
      {"type": "queueTrigger", "direction": "in", "name": "item", "queueName": "orders"}]}'),
  ('unknown binding type', '{"bindings": [{"type": "timerTriger", "direction": "in", "name": "t"}]}'),
  ('http trigger going out', '{"bindings": [{"type": "httpTrigger", "direction": "out", "name": "req"}]}'),
  ('methods without get or post', '{"bindings": [{"type": "httpTrigger", "name": "req", "methods": ["put"]}]}');

-- The default, and why: draft 4 as specified; 0.1.0 read registered draft-04
-- schemas this way, so an upgrade does not change what they accept.
SHOW candystore.jsonschema_draft4_later_keywords;
-- ignore: "const" is an unknown word, so a queue trigger also matches the
-- httpTrigger branch (oneOf fails: both match), while the files a function
-- host refuses pass.
SELECT f.name, jsonb_matches_schema(fn.schema, f.doc) AS valid,
       (SELECT string_agg(keyword || ' at ' || schema_path, '; ')
          FROM jsonschema_validation_errors(fn.schema, f.doc)) AS errors
  FROM files f, fn ORDER BY f.name;

-- honour: the schema means what its authors tested it for with ajv.  Same
-- session, so this also shows a compiled schema is not reused across values.
SET candystore.jsonschema_draft4_later_keywords = honour;
SELECT f.name, jsonb_matches_schema(fn.schema, f.doc) AS valid,
       (SELECT string_agg(keyword || ' at ' || schema_path, '; ')
          FROM jsonschema_validation_errors(fn.schema, f.doc)) AS errors
  FROM files f, fn ORDER BY f.name;
-- every later keyword it covers, and only in draft 4: draft 6's "if" stays unknown there
SELECT jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-04/schema#", "propertyNames": {"maxLength": 3}}',
                            '{"long": 1}') AS property_names,
       jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-04/schema#",
                              "if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}}',
                            '{"a": 1}') AS if_then,
       jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-04/schema#",
                              "if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}}',
                            '{}') AS if_else,
       jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-06/schema#",
                              "if": {"required": ["a"]}, "then": {"required": ["b"]}}',
                            '{"a": 1}') AS draft6_if_still_unknown,
       jsonb_matches_schema('{"$schema": "http://json-schema.org/draft-04/schema#",
                              "dependentRequired": {"a": ["b"]}}', '{"a": 1}') AS draft2019_keyword_still_unknown;

-- A registered payload schema follows the setting too: append() refuses a
-- file with an unknown binding type under honour, stores it under ignore.
SELECT register_schema('regress.function.deployed', schema) AS v1 FROM fn;
CREATE FUNCTION pg_temp.env(n int, payload jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(pg_temp.sample_envelope(('f4000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid),
                               '{event_type}', '"regress.function.deployed"'), '{payload}', payload)
$$;
SELECT pg_temp.expect_error(format('SELECT candystore.append(%L)',
           pg_temp.env(1, (SELECT doc FROM files WHERE name = 'unknown binding type')))) AS honour_refuses;
RESET candystore.jsonschema_draft4_later_keywords;
SELECT append(pg_temp.env(2, (SELECT doc FROM files WHERE name = 'unknown binding type'))) > 0 AS ignore_stores;
SELECT count(*) AS stored FROM events WHERE event_type = 'regress.function.deployed';

-- Only a superuser may change it (it changes what append() accepts).
CREATE ROLE regress_draft4_writer;
SET ROLE regress_draft4_writer;
SELECT pg_temp.expect_error($$SET candystore.jsonschema_draft4_later_keywords = honour$$) AS writer_refused;
RESET ROLE;
DROP ROLE regress_draft4_writer;
SELECT pg_temp.expect_error($$SET candystore.jsonschema_draft4_later_keywords = sometimes$$) AS bad_value;
