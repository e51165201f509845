-- candystore.register_schema: versions, idempotence, the compatibility rules
-- (each breaking change refused with its reason and JSON Pointer, unless
-- forced), invalid schemas, $id resolution from other schemas, add-only
-- rows and who may register.
\i sql/helpers/expect_error.sql
-- "SQLSTATE: message" plus DETAIL and HINT, for refusals that explain themselves
CREATE FUNCTION pg_temp.explain_error(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    msg text; detail text; hint text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || msg || coalesce(E'\nDETAIL: ' || nullif(detail, ''), '')
           || coalesce(E'\nHINT: ' || nullif(hint, ''), '');
END
$$;

-- a first version, then the same schema again (key order does not matter)
SELECT candystore.register_schema('regress.order.placed',
    '{"$id": "https://regress.example/order.placed.v1.json", "type": "object", "required": ["order_id"],
      "properties": {"order_id": {"type": "string"}, "note": {"type": ["string", "null"]},
                     "qty": {"type": "integer", "minimum": 1, "maximum": 100},
                     "state": {"enum": ["new", "paid", "sent"]}, "code": {"type": "string", "maxLength": 10},
                     "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
                     "a/b~c": {"type": "string"}}}') AS v1;
SELECT candystore.register_schema('regress.order.placed',
    '{"properties": {"order_id": {"type": "string"}, "note": {"type": ["string", "null"]},
                     "qty": {"maximum": 100, "minimum": 1, "type": "integer"},
                     "state": {"enum": ["new", "paid", "sent"]}, "code": {"type": "string", "maxLength": 10},
                     "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
                     "a/b~c": {"type": "string"}},
      "required": ["order_id"], "type": "object", "$id": "https://regress.example/order.placed.v1.json"}') AS same_again;

-- compatible changes make a new version: an optional property, a widened
-- type, a longer maxLength, a larger enum, a lower minimum
SELECT candystore.register_schema('regress.order.placed',
    '{"$id": "https://regress.example/order.placed.v2.json", "type": "object", "required": ["order_id"],
      "properties": {"order_id": {"type": ["string", "integer"]}, "note": {"type": ["string", "null"]},
                     "qty": {"type": "number", "minimum": 0, "maximum": 100},
                     "state": {"enum": ["new", "paid", "sent", "lost"]}, "code": {"type": "string", "maxLength": 20},
                     "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
                     "a/b~c": {"type": "string"}, "coupon": {"type": "string"}}}') AS v2_compatible;
SELECT event_type, version, schema_id, incompatibilities, builtin, registered_by = current_user AS by_me
  FROM candystore.schemas WHERE event_type = 'regress.order.placed' ORDER BY version;

-- each breaking change, applied to v2 alone, is refused and explained
CREATE TEMP TABLE v2 AS SELECT schema FROM candystore.schemas WHERE event_type = 'regress.order.placed' AND version = 2;
CREATE TEMP TABLE breaking (label text, change text);
INSERT INTO breaking VALUES
    ('new required field',        $$ jsonb_set(s, '{required}', '["order_id", "coupon"]') $$),
    ('removed property',          $$ s #- '{properties,coupon}' $$),
    ('narrowed type',             $$ jsonb_set(s, '{properties,note,type}', '"string"') $$),
    ('number to integer',         $$ jsonb_set(s, '{properties,qty,type}', '"integer"') $$),
    ('type where there was none', $$ jsonb_set(s, '{properties,state,type}', '"string"') $$),
    ('enum shrank',               $$ jsonb_set(s, '{properties,state,enum}', '["new", "paid"]') $$),
    ('maxLength lowered',         $$ jsonb_set(s, '{properties,code,maxLength}', '5') $$),
    ('minimum raised',            $$ jsonb_set(s, '{properties,qty,minimum}', '2') $$),
    ('additionalProperties false', $$ s || '{"additionalProperties": false}' $$),
    ('inside items',              $$ jsonb_set(s, '{properties,lines,items,required}', '["sku"]') $$),
    ('escaped pointer',           $$ jsonb_set(s, '{properties,a/b~c,type}', '"integer"') $$),
    ('pattern added',             $$ jsonb_set(s, '{properties,code,pattern}', '"^[A-Z]+$"') $$),
    ('several at once',           $$ jsonb_set(jsonb_set(s, '{required}', '["order_id", "qty"]'), '{properties,state}', '{"const": "new"}') $$);
SELECT label, pg_temp.explain_error(format(
           $$SELECT candystore.register_schema('regress.order.placed', (SELECT (%s) - '$id' FROM (SELECT schema AS s FROM v2) x))$$,
           change)) AS refusal
  FROM breaking ORDER BY label;
-- the helper behind it, callable by readers to preview a change
SELECT * FROM candystore.schema_incompatibilities('{"type": "object", "additionalProperties": {"type": "string"}}',
    '{"type": "object", "required": ["x"], "properties": {"y": {"type": "integer"}, "z": false}, "additionalProperties": {"type": "string"}}');
SELECT count(*) AS still_two_versions FROM candystore.schemas WHERE event_type = 'regress.order.placed';

-- force => true registers it anyway and records why it was breaking
SELECT candystore.register_schema('regress.order.placed',
    (SELECT jsonb_set(schema, '{required}', '["order_id", "coupon"]') - '$id' FROM v2), force => true) AS v3_forced;
SELECT version, schema_id, incompatibilities FROM candystore.schemas
 WHERE event_type = 'regress.order.placed' AND version = 3;

-- invalid input: nothing is registered
SELECT label, pg_temp.explain_error(statement) AS refusal FROM (VALUES
    ('not a JSON Schema',      $$SELECT candystore.register_schema('regress.bad.schema', '{"type": "strin"}')$$),
    ('minLength not a count',  $$SELECT candystore.register_schema('regress.bad.schema', '{"properties": {"a": {"minLength": -1}}}')$$),
    ('unresolvable $ref',      $$SELECT candystore.register_schema('regress.bad.schema', '{"$ref": "https://nowhere.example/x.json"}')$$),
    ('not an object',          $$SELECT candystore.register_schema('regress.bad.schema', 'true')$$),
    ('bad event type',         $$SELECT candystore.register_schema('Regress-Bad', '{}')$$),
    ('NULL schema',            $$SELECT candystore.register_schema('regress.bad.schema', NULL)$$),
    ('NULL force',             $$SELECT candystore.register_schema('regress.bad.schema', '{}', NULL)$$),
    ('relative $id',           $$SELECT candystore.register_schema('regress.bad.schema', '{"$id": "order.json"}')$$),
    ('$id taken by v1',        $$SELECT candystore.register_schema('regress.other.type', '{"$id": "https://regress.example/order.placed.v1.json", "type": "object"}')$$),
    ('$id of another resource', $$SELECT candystore.register_schema('regress.other.type', '{"$id": "http://json-schema.org/draft-07/schema", "type": "object"}')$$)
) AS t(label, statement) ORDER BY label;
SELECT count(*) AS nothing_registered FROM candystore.schemas WHERE event_type IN ('regress.bad.schema', 'regress.other.type');

-- a draft-07 schema registers too (its $schema picks the meta-schema)
SELECT candystore.register_schema('regress.legacy.thing',
    '{"$schema": "http://json-schema.org/draft-07/schema#", "$id": "https://regress.example/legacy.json#",
      "type": "object", "properties": {"n": {"type": "integer"}}}') AS draft7;
SELECT schema_id FROM candystore.schemas WHERE event_type = 'regress.legacy.thing';

-- registered schemas are reachable by their $id: from an ad-hoc schema ...
SELECT candystore.jsonb_matches_schema('{"$ref": "https://regress.example/order.placed.v1.json"}', '{"order_id": "o-1"}') AS v1_ok,
       candystore.jsonb_matches_schema('{"$ref": "https://regress.example/order.placed.v1.json"}', '{"qty": 1}') AS v1_without_order_id,
       candystore.jsonb_matches_schema('{"$ref": "https://33god.dev/schemas/github/pr.created.v1.schema.json"}',
                                       '{"cache_key": "trinote|423", "cache_type": "redis"}') AS shipped_ok;
-- ... and from another registered schema, which append then enforces
SELECT candystore.register_schema('regress.order.batch',
    '{"type": "object", "required": ["orders"],
      "properties": {"orders": {"type": "array", "items": {"$ref": "https://regress.example/order.placed.v1.json"}}}}') AS batch_v1;
SELECT * FROM candystore.jsonschema_validation_errors(
    (SELECT schema FROM candystore.schemas WHERE event_type = 'regress.order.batch'),
    '{"orders": [{"order_id": "o-1"}, {"order_id": 7}]}');
SELECT pg_temp.expect_error($$SELECT candystore.append(jsonb_set(jsonb_set(pg_temp.sample_envelope('f1000000-0000-4000-8000-000000000001'),
           '{event_type}', '"regress.order.batch"'), '{payload}', '{"orders": [{"order_id": 7}]}'))$$) AS through_ref;

-- versions are add-only
SELECT pg_temp.expect_error($$UPDATE candystore.schemas SET schema = '{}' WHERE event_type = 'regress.order.placed'$$) AS change,
       pg_temp.expect_error($$DELETE FROM candystore.schemas WHERE event_type = 'regress.order.placed'$$) AS remove,
       pg_temp.expect_error($$TRUNCATE candystore.schemas$$) AS truncate;

-- registering is for the extension owner (or roles it grants EXECUTE);
-- writers and readers see the registry
CREATE ROLE regress_cs_schema_writer IN ROLE candystore_writer;
SET ROLE regress_cs_schema_writer;
SELECT pg_temp.expect_error($$SELECT candystore.register_schema('regress.order.placed', '{}')$$) AS writer_registers,
       (SELECT count(*) > 0 FROM candystore.schemas) AS writer_reads;
RESET ROLE;
SELECT has_function_privilege('candystore_writer', 'candystore.register_schema(text, jsonb, boolean)', 'EXECUTE') AS writer_may,
       has_table_privilege('candystore_reader', 'candystore.schemas', 'SELECT') AS reader_reads,
       has_table_privilege('candystore_writer', 'candystore.schemas', 'INSERT') AS writer_inserts;
DROP ROLE regress_cs_schema_writer;

-- shipped schemas and built-in resources survive pg_dump through the
-- extension; registered schemas and added resources are dumped as data
SELECT x.c::regclass AS config_table, c.c AS dump_condition
  FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY x(c, i), unnest(e.extcondition) WITH ORDINALITY c(c, i)
 WHERE extname = 'candystore' AND x.i = c.i AND c.c ~ 'builtin'
 ORDER BY x.c::regclass::text;
