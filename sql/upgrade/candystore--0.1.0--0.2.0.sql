-- candystore 0.1.0 -> 0.2.0.  ALTER EXTENSION candystore UPDATE runs this
-- script on an installation of 0.1.0; afterwards its catalog must equal a
-- fresh CREATE EXTENSION of 0.2.0 (t/upgrade_from_0_1_0.pl compares them).
-- Every change of the SQL surface in sql/install/ is repeated here, in the
-- section of its concern.
\echo Use "ALTER EXTENSION candystore UPDATE TO '0.2.0'" to load this file. \quit

-- Backups: pg_dump keeps the resources users added and the dead letters ------
SELECT pg_catalog.pg_extension_config_dump('@extschema@.schema_resources', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.dead_letters', 'id'), '');

-- Hardening: a writer cannot lower the contracts -----------------------------
-- candystore.jsonschema_format_assertion and candystore.jsonschema_default_draft
-- are superuser-only now (in the library).  A resource cannot take the $id of
-- a registered schema, and the resolver prefers registered schemas (in the
-- library).  A schema is registered only when all its references resolve.
CREATE OR REPLACE FUNCTION @extschema@.add_schema_resource(uri text, document jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing jsonb;
    registered record;
BEGIN
    uri := pg_catalog.regexp_replace(uri, '#$', '');
    SELECT r.document INTO existing FROM @extschema@.schema_resources r WHERE r.uri = add_schema_resource.uri;
    IF FOUND THEN
        IF existing = document THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'schema resource "%" is already registered with different content', uri
            USING ERRCODE = 'unique_violation',
                  HINT = 'A URI names one document for good; register the new document under a new URI.';
    END IF;
    -- a registered schema is a contract: no resource may take its $id (the
    -- resolver prefers the registered schema anyway)
    SELECT s.event_type, s.version INTO registered
      FROM @extschema@.schemas s WHERE s.schema_id = add_schema_resource.uri;
    IF FOUND THEN
        RAISE EXCEPTION 'schema resource URI "%" is the $id of a registered schema', uri
            USING ERRCODE = 'unique_violation',
                  DETAIL = pg_catalog.format('Version %s of the schema of "%s" has this $id.', registered.version, registered.event_type),
                  HINT = 'Registered schemas are reachable by their $id already; add the resource under another URI.';
    END IF;
    IF uri !~ '^[A-Za-z][A-Za-z0-9+.-]*:' OR uri ~ '#' THEN
        RAISE EXCEPTION 'schema resource URI "%" must be absolute and without a fragment', uri
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.jsonb_typeof(document) NOT IN ('object', 'boolean') THEN
        RAISE EXCEPTION 'a schema resource must be a JSON object or boolean, not %', pg_catalog.jsonb_typeof(document)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.schema_resources (uri, document) VALUES (uri, document);
END
$$;

CREATE FUNCTION @extschema@.jsonschema_unresolved_refs(schema jsonb) RETURNS text[]
    AS 'MODULE_PATHNAME', 'jsonschema_unresolved_references'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jsonschema_unresolved_refs(jsonb) IS
    'The absolute URIs that $refs of schema, or of the documents they lead to, name but that resolve to nothing; empty when every reference resolves.';

CREATE OR REPLACE FUNCTION @extschema@.register_schema_version(event_type text, schema jsonb, force boolean, builtin boolean)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    latest record;
    has_latest boolean;
    sid text;
    reasons text[];
    problems text;
    compile_error text;
BEGIN
    IF event_type IS NULL OR schema IS NULL OR force IS NULL THEN
        RAISE EXCEPTION 'register_schema: event_type, schema and force must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF event_type !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' OR length(event_type) > 255 THEN
        RAISE EXCEPTION 'invalid event type "%"', event_type
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'An event type is two or more dot-separated segments of a-z, 0-9 and _, each starting with a letter; at most 255 characters.',
                  HINT = 'For example "fireflies.transcript.ready".';
    END IF;
    IF jsonb_typeof(schema) <> 'object' THEN
        RAISE EXCEPTION 'the schema for "%" must be a JSON object, not %', event_type, jsonb_typeof(schema)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- valid against the meta-schema of its draft, and compilable
    BEGIN
        IF NOT @extschema@.jsonschema_is_valid(schema) THEN
            SELECT string_agg(format('%s: %s', coalesce(nullif(e.instance_path, ''), '/'), e.message), E'\n')
              INTO problems
              FROM (SELECT * FROM @extschema@.jsonschema_validation_errors(
                        jsonb_build_object('$ref', coalesce(schema->>'$schema', 'https://json-schema.org/draft/2020-12/schema')),
                        schema) LIMIT 5) e;
        ELSE
            PERFORM @extschema@.jsonb_matches_schema(schema, '{}');
        END IF;
    EXCEPTION WHEN data_exception THEN
        GET STACKED DIAGNOSTICS compile_error = MESSAGE_TEXT;
        problems := compile_error;
    END;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'the schema for "%" is not a valid JSON Schema', event_type
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = problems,
                  HINT = 'Check it against the meta-schema of its draft ($schema; 2020-12 when absent).';
    END IF;

    -- its $id (draft 4: id), absolute and without a fragment
    sid := coalesce(schema->>'$id', CASE WHEN schema->>'$schema' LIKE '%draft-04%' THEN schema->>'id' END);
    sid := regexp_replace(sid, '#$', '');
    IF sid !~ '^[A-Za-z][A-Za-z0-9+.-]*:' OR sid ~ '#' THEN
        RAISE EXCEPTION 'the $id of a registered schema must be an absolute URI without a fragment: "%"', sid
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- one registration at a time per event type
    PERFORM pg_advisory_xact_lock(hashtext('candystore.register_schema'), hashtext(event_type));
    SELECT s.version, s.schema INTO latest
      FROM @extschema@.schemas s WHERE s.event_type = register_schema_version.event_type
     ORDER BY s.version DESC LIMIT 1;
    has_latest := FOUND;
    IF has_latest AND latest.schema = schema THEN
        RETURN latest.version;          -- the same schema again
    END IF;

    IF sid IS NOT NULL THEN
        IF EXISTS (SELECT FROM @extschema@.schemas s WHERE s.schema_id = sid)
           OR EXISTS (SELECT FROM @extschema@.schema_resources r WHERE r.uri = sid AND r.document <> schema) THEN
            RAISE EXCEPTION 'the $id "%" already names another schema', sid
                USING ERRCODE = 'unique_violation',
                      HINT = 'A $id names one document for good: give the new version a new $id (for example ending in .v2.schema.json).';
        END IF;
    END IF;

    IF has_latest THEN
        reasons := ARRAY(SELECT @extschema@.schema_incompatibilities(latest.schema, schema));
        IF cardinality(reasons) > 0 AND NOT force THEN
            RAISE EXCEPTION 'the new schema for "%" is incompatible with version %', event_type, latest.version
                USING ERRCODE = '22V03',
                      DETAIL = array_to_string(reasons, E'\n'),
                      HINT = 'Payloads valid under the old version could be refused.  Pass force => true to register it anyway.';
        END IF;
    END IF;

    -- every reference resolves now: one left dangling would let anyone who
    -- may add_schema_resource() write part of the contract later
    IF cardinality(@extschema@.jsonschema_unresolved_refs(schema)) > 0 THEN
        RAISE EXCEPTION 'the schema for "%" refers to documents that do not exist', event_type
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Unresolved: ' || array_to_string(@extschema@.jsonschema_unresolved_refs(schema), ', '),
                  HINT = 'Add them with candystore.add_schema_resource() (or register them) first.';
    END IF;

    INSERT INTO @extschema@.schemas (event_type, version, schema, schema_id, incompatibilities, builtin)
    VALUES (event_type, coalesce(latest.version, 0) + 1, schema, sid, nullif(reasons, '{}'), builtin);
    RETURN coalesce(latest.version, 0) + 1;
END
$$;

-- Hardening: immutability holds in replica mode ------------------------------
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_immutable;
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_are_add_only;
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_are_not_truncated;
ALTER TABLE @extschema@.schemas ENABLE ALWAYS TRIGGER schemas_invalidate_caches;

-- Add-only for every role and in every mode, as the registry is: the
-- documents a registered schema was checked against stay what its $refs name.
CREATE FUNCTION @extschema@.schema_resources_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'schema resources cannot be changed or removed'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Add the new document under a new URI with candystore.add_schema_resource().';
END
$$;
CREATE TRIGGER schema_resources_are_add_only
    BEFORE UPDATE OR DELETE ON @extschema@.schema_resources
    FOR EACH ROW EXECUTE FUNCTION @extschema@.schema_resources_refuse_change();
CREATE TRIGGER schema_resources_are_not_truncated
    BEFORE TRUNCATE ON @extschema@.schema_resources
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schema_resources_refuse_change();
ALTER TABLE @extschema@.schema_resources ENABLE ALWAYS TRIGGER schema_resources_are_add_only;
ALTER TABLE @extschema@.schema_resources ENABLE ALWAYS TRIGGER schema_resources_are_not_truncated;
-- Hardening: database faults are retried in place, commits are durable -------
-- worker_status() shows the last error's SQLSTATE and the worker's
-- synchronous_commit.
DROP FUNCTION @extschema@.worker_status();
CREATE FUNCTION @extschema@.worker_status(
    OUT worker int, OUT pid int, OUT state text, OUT broker text,
    OUT connected_since timestamptz, OUT last_error text, OUT last_error_at timestamptz,
    OUT kind text, OUT last_sqlstate text, OUT synchronous_commit text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'candystore_worker_status'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.worker_status() IS
    'Each ingest worker, then the outbox publisher (kind ingest or publisher): state, broker, connected since, last error (and its SQLSTATE when the database raised it), and the synchronous_commit its transactions commit with.';
REVOKE ALL ON FUNCTION @extschema@.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.worker_status() TO candystore_reader;
-- Hardening: trace_render walks the graph once (C, trace_render.c) ----------
CREATE OR REPLACE FUNCTION @extschema@.trace_render(event_id uuid, format text DEFAULT 'tree') RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_trace_render'
    LANGUAGE C STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
-- Hardening: every message gets a recorded outcome --------------------------
-- Dead letters keep the message's properties and event id, by which a
-- redelivery is recognised; one without either is recorded again, flagged.
-- (possible_redelivery gets its default after it is added, and its rows
-- their value by an UPDATE: a default given in ADD COLUMN would be kept as
-- a "missing value" no fresh install has.)
ALTER TABLE @extschema@.dead_letters
    ADD COLUMN properties jsonb,
    ADD COLUMN event_id text,
    ADD COLUMN possible_redelivery boolean;
ALTER TABLE @extschema@.dead_letters ALTER COLUMN possible_redelivery SET DEFAULT false;
UPDATE @extschema@.dead_letters SET possible_redelivery = false;
ALTER TABLE @extschema@.dead_letters ALTER COLUMN possible_redelivery SET NOT NULL;
-- Hardening: the outbox refuses what it cannot send ---------------------------
-- Enqueueing checks what AMQP can carry (outbox_checked_routing_key for the
-- replays); the publisher counts a row's failures and parks it after
-- candystore.outbox_max_attempts.  The new columns get no stored default
-- (ADD COLUMN ... DEFAULT would leave a "missing value" a fresh table lacks).
ALTER TABLE @extschema@.outbox ADD COLUMN failures integer;
ALTER TABLE @extschema@.outbox ADD COLUMN parked_at timestamptz;
UPDATE @extschema@.outbox SET failures = 0;
ALTER TABLE @extschema@.outbox ALTER COLUMN failures SET DEFAULT 0;
ALTER TABLE @extschema@.outbox ALTER COLUMN failures SET NOT NULL;

CREATE FUNCTION @extschema@.outbox_checked_routing_key(event_id uuid, routing_key text,
                                                       envelope jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_outbox_checked_routing_key'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.outbox_checked_routing_key(uuid, text, jsonb) IS
    'Internal (replay): returns the routing key when the event can be published to candystore.exchange; raises, naming the event, when AMQP cannot carry it.';
REVOKE ALL ON FUNCTION @extschema@.outbox_checked_routing_key(uuid, text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.replay("from" timestamptz, "to" timestamptz,
                                   event_types text[] DEFAULT NULL,
                                   routing_key_prefix text DEFAULT NULL) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.outbox_wake();
    WITH enqueued AS (
        INSERT INTO @extschema@.outbox (position, routing_key, headers)
        -- one event AMQP cannot carry refuses the whole replay
        SELECT e.position,
               @extschema@.outbox_checked_routing_key(e.event_id, coalesce(e.routing_key, e.event_type),
                                                      e.envelope),
               '{"x-candystore-replay": true}'
          FROM @extschema@.event_log e
         WHERE e.occurred_at >= replay."from" AND e.occurred_at < replay."to"
           AND (replay.event_types IS NULL OR e.event_type = ANY (replay.event_types))
           AND (replay.routing_key_prefix IS NULL
                OR starts_with(coalesce(e.routing_key, e.event_type), replay.routing_key_prefix))
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;
COMMENT ON FUNCTION @extschema@.replay(timestamptz, timestamptz, text[], text) IS
    'Enqueues the stored events that occurred in [from, to) again, in their original order, marked with the header x-candystore-replay; returns how many.  Refuses the whole call (class 22, naming the event) when one of them cannot be published.';

CREATE OR REPLACE FUNCTION @extschema@.retry_outbox() RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.outbox_wake();
    WITH due AS (
        UPDATE @extschema@.outbox SET next_attempt_at = NULL, parked_at = NULL, failures = 0
         WHERE published_at IS NULL AND next_attempt_at > now()
        RETURNING 1)
    SELECT count(*) FROM due
$$;
COMMENT ON FUNCTION @extschema@.retry_outbox() IS
    'Makes the pending outbox rows that wait for a retry or are parked due now, with their failures forgotten, and wakes the publisher; returns how many.';

CREATE OR REPLACE VIEW @extschema@.stats AS
SELECT w.*,
       q.pending AS outbox_pending,
       p.published AS outbox_published,
       p.confirms AS outbox_confirms,
       p.nacks AS outbox_nacks,
       p.retries AS outbox_retries,
       q.oldest_pending_age AS outbox_oldest_pending_age,
       p.batches AS outbox_batches,
       p.reconnects AS outbox_reconnects,
       q.parked AS outbox_parked
  FROM @extschema@.worker_stats() w,
       @extschema@.publisher_stats() p,
       (SELECT count(*) AS pending, now() - min(enqueued_at) AS oldest_pending_age,
               count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
          FROM @extschema@.outbox WHERE published_at IS NULL) q;
COMMENT ON VIEW @extschema@.stats IS
    'Ingest worker and outbox publisher counters since server start (shared memory; zero when candystore is not in shared_preload_libraries), and the outbox rows pending (of them, parked) now.';

CREATE OR REPLACE FUNCTION @extschema@.replay_trace(event_id uuid) RETURNS bigint
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH enqueued AS (
        INSERT INTO @extschema@.outbox (position, routing_key, headers)
        -- one event AMQP cannot carry refuses the whole replay
        SELECT e.position,
               @extschema@.outbox_checked_routing_key(e.event_id, coalesce(e.routing_key, e.event_type),
                                                      e.envelope),
               '{"x-candystore-replay": true}'
          FROM @extschema@.event_log e
         -- parents that have not arrived are in the trace, not in the store
         WHERE e.event_id IN (SELECT t.event_id FROM @extschema@.trace(replay_trace.event_id) t)
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;
COMMENT ON FUNCTION @extschema@.replay_trace(uuid) IS
    'Enqueues every stored event of the causation graph this event belongs to again, in their original order, marked with the header x-candystore-replay; returns how many (0 for an unknown id).  Refuses the whole call (class 22, naming the event) when one of them cannot be published.';
