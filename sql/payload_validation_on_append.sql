-- append() and publish() validate the payload against the latest registered
-- schema of the event type: a valid payload is stored, an invalid one is
-- refused with SQLSTATE 22V01 naming the path, and nothing is stored.
-- candystore.validation and candystore.accept_unknown_event_types choose
-- how much is checked.
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.env(n int, type text, payload jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(pg_temp.sample_envelope(('f2000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid),
                               '{event_type}', to_jsonb(type)), '{payload}', payload)
$$;
CREATE FUNCTION pg_temp.stored(n int) RETURNS boolean LANGUAGE sql AS $$
    SELECT EXISTS (SELECT FROM candystore.events
                    WHERE event_id = ('f2000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid)
$$;
SHOW candystore.validation;
SHOW candystore.accept_unknown_event_types;

SELECT candystore.register_schema('regress.invoice.issued',
    '{"type": "object", "required": ["invoice_id", "total"],
      "properties": {"invoice_id": {"type": "string", "format": "uuid"},
                     "total": {"type": "number", "minimum": 0, "multipleOf": 0.01},
                     "lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}}}}') AS v1;

-- valid: stored
SELECT candystore.append(pg_temp.env(1, 'regress.invoice.issued',
           '{"invoice_id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1", "total": 19.99, "lines": [{"sku": "a"}], "extra": true}')) > 0 AS valid_stored;

-- invalid: refused with the path into the envelope, all reasons in DETAIL
SELECT candystore.append(pg_temp.env(2, 'regress.invoice.issued',
           '{"invoice_id": "not-a-uuid", "total": 19.999, "lines": [{"sku": "a"}, {}]}'));
SELECT candystore.append(pg_temp.env(3, 'regress.invoice.issued', '{"total": -1}'));
-- more than five failures: the first five, then a count
SELECT candystore.append(pg_temp.env(4, 'regress.invoice.issued',
           '{"invoice_id": 1, "total": "x", "lines": [1, 2, 3, 4]}'));
SELECT pg_temp.stored(2) OR pg_temp.stored(3) OR pg_temp.stored(4) AS any_invalid_stored;

-- publish: refused the same way, and nothing is queued
SELECT pg_temp.expect_error($$SELECT candystore.publish(pg_temp.env(5, 'regress.invoice.issued', '{"total": 1}'))$$) AS publish_invalid;
SELECT pg_temp.stored(5) AS published_invalid_stored,
       (SELECT count(*) FROM candystore.outbox o JOIN candystore.event_log l USING (position)
         WHERE l.event_id = 'f2000000-0000-4000-8000-000000000005') AS queued;
SELECT candystore.publish(pg_temp.env(6, 'regress.invoice.issued', '{"invoice_id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1", "total": 0}')) > 0 AS publish_valid;

-- a shipped contract: llm.prompt needs provider and prompt
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(7, 'llm.prompt', '{}'))$$) AS llm_prompt_empty,
       pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(8, 'llm.prompt', '{"provider": "anthropic", "prompt": "Explain event sourcing"}'))$$) AS llm_prompt_ok;

-- a payload nested too deeply for a recursive schema is bad data (class 22,
-- so the ingest worker dead-letters it), not a stack-depth error
SELECT candystore.register_schema('regress.tree.grown',
    '{"$defs": {"node": {"type": "object", "additionalProperties": {"$ref": "#/$defs/node"}}}, "$ref": "#/$defs/node"}') AS tree_v1;
CREATE TEMP TABLE deep AS SELECT pg_temp.env(19, 'regress.tree.grown', (repeat('{"a": ', 5000) || '{}' || repeat('}', 5000))::jsonb) AS e;
SET max_stack_depth = '200kB';
SELECT pg_temp.expect_error($$SELECT candystore.append(e) FROM deep$$) AS too_deep,
       pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(20, 'regress.tree.grown', '{"a": {"b": {"c": {}}}}'))$$) AS shallow;
RESET max_stack_depth;

-- a new version applies from the next statement on, in this session ...
SELECT candystore.register_schema('regress.invoice.issued',
    '{"type": "object", "required": ["invoice_id", "total", "currency"],
      "properties": {"invoice_id": {"type": "string", "format": "uuid"},
                     "total": {"type": "number", "minimum": 0, "multipleOf": 0.01},
                     "currency": {"enum": ["EUR", "USD"]},
                     "lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}}}}', force => true) AS v2;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(9, 'regress.invoice.issued', '{"invoice_id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1", "total": 1}'))$$) AS v1_payload_under_v2;
-- ... and a registration rolled back is forgotten
BEGIN;
SELECT candystore.register_schema('regress.invoice.issued', '{"type": "object", "required": ["never"]}', force => true) AS v3_rolled_back;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(10, 'regress.invoice.issued', '{"invoice_id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1", "total": 1, "currency": "EUR"}'))$$) AS under_v3;
ROLLBACK;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(10, 'regress.invoice.issued', '{"invoice_id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1", "total": 1, "currency": "EUR"}'))$$) AS under_v2_again;

-- validation = envelope: payloads are not checked (the envelope still is)
SET candystore.validation = envelope;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(11, 'regress.invoice.issued', '{"total": "x"}'))$$) AS envelope_only,
       pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(12, 'regress.invoice.issued', '{}') - 'timestamp')$$) AS envelope_still_checked;
-- validation = off: the same
SET candystore.validation = off;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(13, 'regress.invoice.issued', '{"total": "x"}'))$$) AS off;
RESET candystore.validation;
-- a redelivery of an event stored unchecked (or under an older schema
-- version) is still a duplicate: it returns the stored position ...
SELECT candystore.append(pg_temp.env(13, 'regress.invoice.issued', '{"total": "x"}'))
     = (SELECT position FROM candystore.events WHERE event_id = 'f2000000-0000-4000-8000-000000000013') AS redelivery_is_duplicate;
-- ... while other content under that id is checked first, and refused
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(13, 'regress.invoice.issued', '{"total": "y"}'))$$) AS changed_and_invalid;

-- unknown event types: accepted by default, refused when the setting is off
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(14, 'regress.nobody.knows', '{"anything": 1}'))$$) AS unknown_accepted;
SET candystore.accept_unknown_event_types = off;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(15, 'regress.nobody.knows', '{"anything": 1}'))$$) AS unknown_refused,
       pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(16, 'regress.invoice.issued', '{"invoice_id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1", "total": 1, "currency": "USD"}'))$$) AS known_accepted;
SET candystore.validation = envelope;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(17, 'regress.nobody.knows', '{}'))$$) AS unknown_refused_envelope_mode;
SET candystore.validation = off;
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env(18, 'regress.nobody.knows', '{}'))$$) AS unknown_accepted_when_off;
RESET candystore.validation;
RESET candystore.accept_unknown_event_types;

SELECT n, pg_temp.stored(n) AS stored FROM generate_series(9, 20) n ORDER BY n;

-- the settings guard the boundary: only superusers (or roles granted SET) change them
CREATE ROLE regress_cs_setter IN ROLE candystore_writer;
SET ROLE regress_cs_setter;
SELECT pg_temp.expect_error($$SET candystore.validation = off$$) AS writer_turns_off,
       pg_temp.expect_error($$SET candystore.accept_unknown_event_types = on$$) AS writer_accepts_unknown;
RESET ROLE;
DROP ROLE regress_cs_setter;
