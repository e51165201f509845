-- A member of candystore_writer cannot lower the contracts append(),
-- publish() and redrive_dead_letters() enforce: every setting that changes
-- what they accept is superuser-only, whichever way a writer tries to set it
-- (SET, SET LOCAL, set_config, ALTER ROLE ... SET, a function's SET clause),
-- and a schema resource cannot take the $id of a registered schema, nor
-- stand in for one.
\i sql/helpers/expect_error.sql
SELECT current_user AS superuser \gset
CREATE ROLE regress_contract_writer LOGIN IN ROLE candystore_writer;

-- format assertion and const: what format_assertion = off and draft 4
-- (which has no const) would switch off
SELECT candystore.register_schema('regress.contract.signed',
    '{"$id": "https://regress.example/contract.signed.v1.schema.json",
      "type": "object", "required": ["signed_at", "kind"],
      "properties": {"signed_at": {"type": "string", "format": "date-time"},
                     "kind": {"const": "contract"}}}') AS contract_v1;
-- a contract that refers to the first by its $id
SELECT candystore.register_schema('regress.contract.countersigned',
    '{"$id": "https://regress.example/contract.countersigned.v1.schema.json",
      "type": "object", "required": ["original"],
      "properties": {"original": {"$ref": "https://regress.example/contract.signed.v1.schema.json"}}}') AS countersigned_v1;
-- a contract is registered only when every reference resolves, also through
-- the documents they lead to: a dangling one would let a writer supply its
-- target later with add_schema_resource()
SELECT candystore.add_schema_resource('https://regress.example/contract.hop.json',
    '{"$ref": "https://regress.example/contract.later.json"}');
SELECT candystore.jsonschema_unresolved_refs(
    '{"properties": {"a": {"$ref": "https://regress.example/contract.hop.json"},
                     "b": {"$ref": "#/$defs/none"},
                     "c": {"$ref": "https://regress.example/contract.signed.v1.schema.json#/properties/kind"},
                     "d": {"items": {"$ref": "https://regress.example/contract.later.json"}}}}') AS unresolved;
SELECT pg_temp.expect_error($$SELECT candystore.register_schema('regress.contract.dangling',
    '{"$id": "https://regress.example/contract.dangling.v1.schema.json", "type": "object",
      "properties": {"t": {"$ref": "https://regress.example/contract.hop.json"}}}')$$) AS dangling;
-- a dead letter whose payload breaks the contract, for redrive
INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, body)
SELECT 'invalid payload', '22V01', 'regress.contract',
       convert_to(jsonb_set(jsonb_set(pg_temp.sample_envelope('c0c00000-0000-4000-8000-000000000009'),
                                      '{event_type}', '"regress.contract.signed"'),
                            '{payload}', '{"signed_at": "yesterday", "kind": "contract"}')::text, 'UTF8')
RETURNING id AS letter_id \gset

\c - regress_contract_writer
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.env(n int, type text, payload jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(pg_temp.sample_envelope(('c0c00000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid),
                               '{event_type}', to_jsonb(type)), '{payload}', payload)
$$;
SELECT current_user, pg_has_role('candystore_writer', 'MEMBER') AS writer,
       current_setting('is_superuser') AS superuser;

-- every way to set the settings is refused
SELECT s AS attempt, pg_temp.expect_error(s) AS outcome
  FROM unnest(ARRAY[
    $$SET candystore.jsonschema_format_assertion = off$$,
    $$SET LOCAL candystore.jsonschema_format_assertion = off$$,
    $$SELECT set_config('candystore.jsonschema_format_assertion', 'off', false)$$,
    $$SET candystore.jsonschema_default_draft = '4'$$,
    $$SELECT set_config('candystore.jsonschema_default_draft', '4', true)$$,
    $$SET candystore.validation = off$$,
    $$SET candystore.validation = envelope$$,
    $$SET candystore.accept_unknown_event_types = on$$,
    $$ALTER ROLE regress_contract_writer SET candystore.jsonschema_format_assertion = off$$,
    $$ALTER ROLE regress_contract_writer SET candystore.jsonschema_default_draft = '4'$$,
    $$CREATE FUNCTION pg_temp.lowered() RETURNS int LANGUAGE sql
        SET candystore.jsonschema_format_assertion = off AS 'SELECT 1'$$,
    $$CREATE FUNCTION pg_temp.lowered() RETURNS int LANGUAGE sql
        SET candystore.jsonschema_default_draft = '4' AS 'SELECT 1'$$]) AS s;
SHOW candystore.jsonschema_format_assertion;
SHOW candystore.jsonschema_default_draft;
SHOW candystore.validation;

-- so the contract holds for append, publish and redrive
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(1, 'regress.contract.signed',
           '{"signed_at": "yesterday", "kind": "contract"}'))$$) AS bad_format,
       pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(2, 'regress.contract.signed',
           '{"signed_at": "2026-01-27T10:15:00Z", "kind": "anything"}'))$$) AS bad_const,
       pg_temp.expect_error($$SELECT candystore.publish(pg_temp.env(3, 'regress.contract.signed',
           '{"signed_at": "yesterday", "kind": "contract"}'))$$) AS publish_bad_format;
SELECT candystore.redrive_dead_letters(ARRAY[:letter_id]::bigint[]) AS redriven;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(4, 'regress.contract.signed',
           '{"signed_at": "2026-01-27T10:15:00Z", "kind": "contract"}'))$$) AS valid;

-- a resource cannot take the $id of a registered schema, with or without "#"
SELECT pg_temp.expect_error($$SELECT candystore.add_schema_resource(
           'https://regress.example/contract.signed.v1.schema.json', 'true')$$) AS replace_contract,
       pg_temp.expect_error($$SELECT candystore.add_schema_resource(
           'https://regress.example/contract.signed.v1.schema.json#', '{}')$$) AS replace_contract_fragment,
       pg_temp.expect_error($$SELECT candystore.add_schema_resource(
           'https://regress.example/contract.shared.json', '{"type": "string"}')$$) AS new_resource;
\set VERBOSITY default
SELECT candystore.add_schema_resource('https://regress.example/contract.signed.v1.schema.json', 'true');
\set VERBOSITY terse
-- the missing target can be added, but no contract depends on it
SELECT pg_temp.expect_error($$SELECT candystore.add_schema_resource(
           'https://regress.example/contract.later.json', 'true')$$) AS later_resource,
       (SELECT count(*) FROM candystore.schemas WHERE event_type = 'regress.contract.dangling') AS dangling_versions;
-- the countersignature still checks the original against its contract
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(5, 'regress.contract.countersigned',
           '{"original": {"signed_at": "2026-01-27T10:15:00Z", "kind": "anything"}}'))$$) AS countersigned_bad;
SELECT count(*) AS stored
  FROM candystore.events WHERE event_id::text LIKE 'c0c00000-%';
DISCARD TEMP;

\c - :superuser
\i sql/helpers/expect_error.sql
-- a resource row under a registered $id that got past add_schema_resource()
-- (written by a superuser, or left from an older version) is never used:
-- the registered schema is resolved first (the row stays: resources are
-- add-only)
INSERT INTO candystore.schema_resources (uri, document)
VALUES ('https://regress.example/contract.signed.v1.schema.json', 'true');
SELECT candystore.jsonb_matches_schema('{"$ref": "https://regress.example/contract.signed.v1.schema.json"}',
           '{"signed_at": "2026-01-27T10:15:00Z", "kind": "anything"}') AS ref_matches_bad,
       candystore.jsonb_matches_schema('{"$ref": "https://regress.example/contract.signed.v1.schema.json"}',
           '{"signed_at": "2026-01-27T10:15:00Z", "kind": "contract"}') AS ref_matches_good;
SELECT pg_temp.expect_error($$SELECT candystore.append(jsonb_set(jsonb_set(
           pg_temp.sample_envelope('c0c00000-0000-4000-8000-000000000006'), '{event_type}', '"regress.contract.countersigned"'),
           '{payload}', '{"original": {"signed_at": "2026-01-27T10:15:00Z", "kind": "anything"}}'))$$) AS countersigned_bad;
DELETE FROM candystore.dead_letters WHERE id = :letter_id;
SELECT count(*) AS stored
  FROM candystore.events WHERE event_id::text LIKE 'c0c00000-%';

-- the settings of the registry as the catalog sees them
SELECT name, context FROM pg_settings
 WHERE name IN ('candystore.jsonschema_format_assertion', 'candystore.jsonschema_default_draft',
                'candystore.validation', 'candystore.accept_unknown_event_types')
 ORDER BY name;

DROP ROLE regress_contract_writer;
