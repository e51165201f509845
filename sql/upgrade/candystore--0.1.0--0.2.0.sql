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

-- Reading as a stream: read_all(), subscriptions, wait_for_events() ---------
-- The same as sql/install/45_read_all.sql, 46_subscriptions.sql and
-- 47_subscriptions_and_purge.sql.  Adding the xid column rewrites event_log
-- and gives every stored event this upgrade's transaction id: the events
-- stored before it are read first, in position order.

-- Reading the store as a stream -------------------------------------------------
-- Positions are taken at insert time but transactions commit in any order, so
-- "position > last seen" skips an event whose transaction commits after a
-- later position was read.  Each row therefore records its inserting
-- (top-level) transaction id, and a reader returns only rows whose xid is
-- below the read horizon: the xmin of its snapshot (every transaction below it
-- has ended, so no row can ever appear there again), or its own xid when it
-- holds one (its own rows are not settled until it commits).  Rows are
-- returned in (xid, position) order and the cursor is that pair, as text of
-- fixed width, so cursors sort as text in reading order.
--
-- The cost: a transaction anywhere in the cluster that holds an xid (that
-- has written something) holds the horizon back while it runs, and readers
-- see nothing newer than it until it ends; they stall, they never skip.
-- candystore.read_horizon names the transaction holding it.

ALTER TABLE @extschema@.event_log ADD COLUMN xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id();
COMMENT ON COLUMN @extschema@.event_log.xid IS
    'Bookkeeping for read_all(): the transaction that stored the event (its top-level id).';
-- Keys are unique (position is) and arrive mostly in ascending order (xids
-- grow): nothing to deduplicate, and full pages are what a rightmost split
-- should leave.  Both save instructions on every append.
CREATE INDEX event_log_xid_idx ON @extschema@.event_log (xid, position)
    WITH (fillfactor = 100, deduplicate_items = off);

-- The cursor: 16 hex digits of the xid, '-', 16 hex digits of the position.
CREATE FUNCTION @extschema@.cursor_encode(xid xid8, "position" bigint) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_cursor_encode'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cursor_encode(xid8, bigint) IS
    'The read_all() cursor of the event stored by transaction xid at position.';

-- The horizon this transaction may read below (see above).
CREATE FUNCTION @extschema@.read_horizon_xid() RETURNS xid8
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
RETURN LEAST(pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()),
             pg_catalog.pg_current_xact_id_if_assigned());
COMMENT ON FUNCTION @extschema@.read_horizon_xid() IS
    'The read horizon of this transaction: read_all() returns the events stored by transactions below it.';

-- A cursor taken apart and checked: malformed, or ahead of the horizon (no
-- read can have returned it yet), raises; NULL is the beginning.
CREATE FUNCTION @extschema@.cursor_decode(cursor text, OUT xid xid8, OUT "position" bigint)
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    x bigint;
BEGIN
    IF cursor IS NULL THEN
        xid := '0'::xid8;
        "position" := 0;
        RETURN;
    END IF;
    IF cursor !~ '^[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}$' THEN
        RAISE EXCEPTION 'invalid cursor: "%"', left(cursor, 100)
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'A cursor is a value read_all() or read_subscription() returned: 16 hex digits, "-", 16 hex digits.',
                  HINT = 'Pass NULL to read from the beginning.';
    END IF;
    x := ('x' || substr(cursor, 1, 16))::bit(64)::bigint;
    "position" := ('x' || substr(cursor, 18, 16))::bit(64)::bigint;
    xid := x::text::xid8;
    IF xid >= @extschema@.read_horizon_xid() THEN
        RAISE EXCEPTION 'cursor "%" is ahead of the read horizon', cursor
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It names transaction %s; this session reads below %s.', xid, @extschema@.read_horizon_xid()),
                  HINT = 'Pass back a cursor a read of this database returned.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.cursor_decode(text) IS
    'A read_all() cursor taken apart (NULL: the beginning); raises for a malformed cursor or one ahead of the read horizon.';

CREATE FUNCTION @extschema@.read_partition(after text, max_count int, event_types text[],
                                            member int, group_size int)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    horizon xid8;
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF group_size IS NULL OR group_size < 1 OR member IS NULL OR member < 0 OR member >= group_size THEN
        RAISE EXCEPTION 'member % of a group of % does not exist',
                        coalesce(member::text, 'NULL'), coalesce(group_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Members are numbered from 0 to group_size - 1.';
    END IF;
    c := @extschema@.cursor_decode(after);
    horizon := @extschema@.read_horizon_xid();
    RETURN QUERY
        SELECT @extschema@.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
               e.occurred_at, e.recorded_at, e.envelope
          FROM @extschema@.event_log e
         WHERE (e.xid, e.position) > (c.xid, c.position)
           AND e.xid < horizon
           AND (read_partition.event_types IS NULL OR e.event_type = ANY (read_partition.event_types))
           AND (group_size = 1
                OR ('x' || right(e.causation_group::text, 7))::bit(28)::int % group_size = member)
         ORDER BY e.xid, e.position
         LIMIT max_count;
END
$$;
COMMENT ON FUNCTION @extschema@.read_partition(text, int, text[], int, int) IS
    'read_all() restricted to one member of a consumer group: the events whose causation group falls to member (0 .. group_size - 1).';
REVOKE ALL ON FUNCTION @extschema@.read_partition(text, int, text[], int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_partition(text, int, text[], int, int) TO candystore_reader;

-- The same query as read_partition() without the member's predicate: one
-- layer less for the common case.
CREATE FUNCTION @extschema@.read_all(after text, max_count int DEFAULT 1000, event_types text[] DEFAULT NULL)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    horizon xid8;
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    c := @extschema@.cursor_decode(after);
    horizon := @extschema@.read_horizon_xid();
    IF event_types IS NULL THEN
        RETURN QUERY
            SELECT @extschema@.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
                   e.occurred_at, e.recorded_at, e.envelope
              FROM @extschema@.event_log e
             WHERE (e.xid, e.position) > (c.xid, c.position) AND e.xid < horizon
             ORDER BY e.xid, e.position
             LIMIT max_count;
    ELSE
        RETURN QUERY
            SELECT @extschema@.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
                   e.occurred_at, e.recorded_at, e.envelope
              FROM @extschema@.event_log e
             WHERE (e.xid, e.position) > (c.xid, c.position) AND e.xid < horizon
               AND e.event_type = ANY (read_all.event_types)
             ORDER BY e.xid, e.position
             LIMIT max_count;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.read_all(text, int, text[]) IS
    'Up to max_count events after the cursor (NULL: from the beginning), each exactly once, in a stable order, whatever order their transactions commit in; pass the last row''s cursor back to read on.';
REVOKE ALL ON FUNCTION @extschema@.read_all(text, int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_all(text, int, text[]) TO candystore_reader;

-- What holds the horizon back: the oldest transaction holding an xid.
CREATE VIEW @extschema@.read_horizon AS
SELECT @extschema@.read_horizon_xid() AS horizon,
       o.xid AS oldest_xid, o.pid AS oldest_pid, o.datname AS oldest_database,
       o.usename AS oldest_user, o.xact_start AS oldest_xact_start,
       pg_catalog.now() - o.xact_start AS oldest_age, o.state AS oldest_state, o.prepared AS oldest_is_prepared,
       (SELECT pg_catalog.count(*) FROM @extschema@.event_log e
         WHERE e.xid >= @extschema@.read_horizon_xid()) AS waiting_events
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (
        SELECT t.* FROM (
            SELECT a.backend_xid AS xid, a.pid, a.datname::text AS datname, a.usename::text AS usename,
                   a.xact_start, a.state, false AS prepared
              FROM pg_catalog.pg_stat_activity a
             WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid()
            UNION ALL
            SELECT p.transaction, NULL, p.database::text, p.owner::text, p.prepared, 'prepared', true
              FROM pg_catalog.pg_prepared_xacts p) t
         ORDER BY pg_catalog.age(t.xid) DESC
         LIMIT 1) o ON true;
COMMENT ON VIEW @extschema@.read_horizon IS
    'The read horizon; the oldest other transaction holding an xid, which holds it back (readers see no event stored by a later transaction until it ends); and waiting_events, the committed events readers cannot see yet because of it.';
GRANT SELECT ON @extschema@.read_horizon TO candystore_reader;

CREATE FUNCTION @extschema@.wait_for_events(after text, timeout interval DEFAULT '30 seconds') RETURNS boolean
    AS 'MODULE_PATHNAME', 'candystore_wait_for_events'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.wait_for_events(text, interval) IS
    'Waits until read_all(after) has an event to return (true) or the timeout passes (false); woken when a transaction that appended ends.';
REVOKE ALL ON FUNCTION @extschema@.wait_for_events(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.wait_for_events(text, interval) TO candystore_reader;

-- Subscriptions ----------------------------------------------------------------
-- A subscription is a named checkpoint in the read_all() order, kept in the
-- database so a consumer resumes where it acknowledged.  read_subscription()
-- reads after the checkpoint and moves nothing (a batch read again before its
-- ack is read again: at least once); ack_subscription() moves it forward.
-- A subscription read by a consumer group of N members keeps one checkpoint
-- per member; its events are split by causation group (read_partition()), so
-- all the events of one group go to one member, in reading order.  N is
-- fixed by the first read.
--
-- A subscription belongs to the role that created it: that role (and roles
-- that are members of it) sees it in candystore.subscriptions and may read,
-- ack and drop it; no other role sees it (row security).  The functions run
-- with the caller's rights.

CREATE TABLE @extschema@.subscription (
    name            text PRIMARY KEY,
    owner           name NOT NULL DEFAULT current_user,
    event_types     text[],
    start_xid       xid8 NOT NULL,
    start_position  bigint NOT NULL,
    group_size      int CHECK (group_size >= 1),     -- fixed by the first read
    purged_unread   bigint NOT NULL DEFAULT 0,       -- purged before the first read (47_...)
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.subscription IS
    'Subscriptions (subscribe()); read them through candystore.subscriptions.';

CREATE TABLE @extschema@.subscription_checkpoint (
    name            text NOT NULL REFERENCES @extschema@.subscription ON DELETE CASCADE,
    member          int NOT NULL,
    owner           name NOT NULL DEFAULT current_user,
    xid             xid8 NOT NULL,
    "position"      bigint NOT NULL,
    last_read_at    timestamptz,
    last_ack_at     timestamptz,
    purged_unread   bigint NOT NULL DEFAULT 0,  -- events purge_events() removed past the checkpoint
    PRIMARY KEY (name, member)
);
COMMENT ON TABLE @extschema@.subscription_checkpoint IS
    'Each subscription member''s checkpoint: the cursor of the last event it acknowledged.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.subscription', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.subscription_checkpoint', '');

ALTER TABLE @extschema@.subscription ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.subscription_checkpoint ENABLE ROW LEVEL SECURITY;
CREATE POLICY subscription_owner ON @extschema@.subscription
    USING (pg_catalog.pg_has_role(current_user, owner, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(current_user, owner, 'MEMBER'));
-- a checkpoint is written only for a subscription its writer may see, and
-- belongs to the subscription's owner (no squatting on another's member)
CREATE POLICY subscription_checkpoint_owner ON @extschema@.subscription_checkpoint
    USING (pg_catalog.pg_has_role(current_user, owner, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(current_user, owner, 'MEMBER')
                AND EXISTS (SELECT 1 FROM @extschema@.subscription s
                             WHERE s.name = subscription_checkpoint.name AND s.owner = subscription_checkpoint.owner));
REVOKE ALL ON @extschema@.subscription, @extschema@.subscription_checkpoint FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.subscription, @extschema@.subscription_checkpoint
    TO candystore_reader;

CREATE FUNCTION @extschema@.subscribe(name text, start_at text DEFAULT 'now', event_types text[] DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'a subscription needs a name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF start_at = 'beginning' THEN
        c := @extschema@.cursor_decode(NULL);
    ELSIF start_at = 'now' OR start_at IS NULL THEN
        -- everything below the horizon is before "now", everything later above it
        SELECT ((@extschema@.read_horizon_xid()::text::bigint - 1)::text)::xid8 AS xid,
               9223372036854775807::bigint AS "position"
          INTO c;
    ELSE
        c := @extschema@.cursor_decode(start_at);
    END IF;
    BEGIN
        INSERT INTO @extschema@.subscription (name, event_types, start_xid, start_position)
        VALUES (subscribe.name, subscribe.event_types, c.xid, c.position);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'subscription "%" already exists', subscribe.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Drop it with candystore.unsubscribe() first, or pick another name.';
    END;
    RETURN @extschema@.cursor_encode(c.xid, c.position);
END
$$;
COMMENT ON FUNCTION @extschema@.subscribe(text, text, text[]) IS
    'Creates a subscription owned by the current role, starting at ''beginning'', ''now'' or after a cursor; returns its starting cursor.';

-- The caller's checkpoint row of member of name, created on the first read
-- (which also fixes the group size); raises for an unknown subscription or
-- another group size.
CREATE FUNCTION @extschema@.subscription_member(name text, member int, group_size int)
    RETURNS @extschema@.subscription_checkpoint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s @extschema@.subscription;
    cp @extschema@.subscription_checkpoint;
BEGIN
    SELECT * INTO s FROM @extschema@.subscription WHERE subscription.name = subscription_member.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', subscription_member.name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with candystore.subscribe(); a role sees only the subscriptions it owns.';
    END IF;
    IF group_size IS NULL OR group_size < 1 OR member IS NULL OR member < 0 OR member >= group_size THEN
        RAISE EXCEPTION 'member % of a group of % does not exist',
                        coalesce(member::text, 'NULL'), coalesce(group_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Members are numbered from 0 to group_size - 1.';
    END IF;
    IF s.group_size IS NULL THEN
        UPDATE @extschema@.subscription SET group_size = subscription_member.group_size
         WHERE subscription.name = subscription_member.name AND subscription.group_size IS NULL
        RETURNING * INTO s;
        IF NOT FOUND THEN   -- another member's first read fixed it meanwhile
            SELECT * INTO s FROM @extschema@.subscription WHERE subscription.name = subscription_member.name;
        END IF;
    END IF;
    IF s.group_size <> subscription_member.group_size THEN
        RAISE EXCEPTION 'subscription "%" is read by a group of %, not %',
                        s.name, s.group_size, subscription_member.group_size
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The group size is fixed by the first read; to change it, subscribe anew at the slowest member''s checkpoint.';
    END IF;
    -- a new member inherits the count of events purged unread before the first read (47_...)
    INSERT INTO @extschema@.subscription_checkpoint (name, member, owner, xid, "position", purged_unread)
    VALUES (s.name, subscription_member.member, s.owner, s.start_xid, s.start_position,
            (SELECT s2.purged_unread FROM @extschema@.subscription s2 WHERE s2.name = s.name))
    ON CONFLICT DO NOTHING;
    SELECT * INTO cp FROM @extschema@.subscription_checkpoint k
     WHERE k.name = s.name AND k.member = subscription_member.member;
    RETURN cp;
END
$$;
COMMENT ON FUNCTION @extschema@.subscription_member(text, int, int) IS
    'Internal to read_subscription() and ack_subscription(): the checkpoint of one member.';

CREATE FUNCTION @extschema@.read_subscription(name text, max_count int DEFAULT 1000,
                                               member int DEFAULT 0, group_size int DEFAULT 1)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql VOLATILE ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cp @extschema@.subscription_checkpoint;
    types text[];
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cp := @extschema@.subscription_member(name, member, group_size);
    IF cp.purged_unread > 0 THEN
        RAISE EXCEPTION 'subscription "%" lost % events to purge_events() after its checkpoint',
                        cp.name, cp.purged_unread
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'They were purged before this subscription read them.',
                  HINT = 'To read on past the gap, call candystore.ack_subscription(name, NULL, member, group_size, accept_purged => true).';
    END IF;
    SELECT s.event_types INTO types FROM @extschema@.subscription s WHERE s.name = cp.name;
    UPDATE @extschema@.subscription_checkpoint k SET last_read_at = pg_catalog.clock_timestamp()
     WHERE k.name = cp.name AND k.member = cp.member;
    RETURN QUERY
        SELECT * FROM @extschema@.read_partition(@extschema@.cursor_encode(cp.xid, cp.position),
                                                 max_count, types, cp.member, group_size);
END
$$;
COMMENT ON FUNCTION @extschema@.read_subscription(text, int, int, int) IS
    'The next events after the subscription''s (or group member''s) checkpoint; moves nothing: acknowledge with ack_subscription().';

CREATE FUNCTION @extschema@.ack_subscription(name text, cursor text, member int DEFAULT 0,
                                              group_size int DEFAULT 1, accept_purged boolean DEFAULT false)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cp @extschema@.subscription_checkpoint;
    c record;
BEGIN
    cp := @extschema@.subscription_member(name, member, group_size);
    IF cursor IS NULL AND NOT accept_purged THEN
        RAISE EXCEPTION 'cursor must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF accept_purged THEN
        UPDATE @extschema@.subscription_checkpoint k SET purged_unread = 0
         WHERE k.name = cp.name AND k.member = cp.member;
        cp.purged_unread := 0;
    END IF;
    IF cursor IS NULL THEN
        RETURN false;
    END IF;
    c := @extschema@.cursor_decode(cursor);
    -- never backwards: acknowledging an older cursor again (a retried ack) changes nothing
    UPDATE @extschema@.subscription_checkpoint k
       SET xid = c.xid, "position" = c.position, last_ack_at = pg_catalog.clock_timestamp()
     WHERE k.name = cp.name AND k.member = cp.member
       AND (k.xid, k.position) < (c.xid, c.position);
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.ack_subscription(text, text, int, int, boolean) IS
    'Moves the checkpoint to cursor if that is ahead of it (true), else changes nothing (false): never backwards.  accept_purged => true reads on past events purge_events() removed unread.';

CREATE FUNCTION @extschema@.unsubscribe(name text) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (DELETE FROM @extschema@.subscription s WHERE s.name = unsubscribe.name RETURNING 1)
    SELECT count(*) > 0 FROM gone;
END;
COMMENT ON FUNCTION @extschema@.unsubscribe(text) IS
    'Drops the subscription and its checkpoints; false when there was none (of the caller''s).';

-- Lag of one checkpoint: events readable after it and the oldest one's age.
CREATE FUNCTION @extschema@.subscription_lag(xid xid8, "position" bigint, event_types text[],
                                              member int, group_size int,
                                              OUT lag_events bigint, OUT oldest_unread_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT count(*), min(e.recorded_at)
      FROM @extschema@.event_log e
     WHERE (e.xid, e.position) > (subscription_lag.xid, subscription_lag.position)
       AND e.xid < @extschema@.read_horizon_xid()
       AND (subscription_lag.event_types IS NULL OR e.event_type = ANY (subscription_lag.event_types))
       AND (subscription_lag.group_size = 1
            OR ('x' || right(e.causation_group::text, 7))::bit(28)::int % subscription_lag.group_size
               = subscription_lag.member);
END;
COMMENT ON FUNCTION @extschema@.subscription_lag(xid8, bigint, text[], int, int) IS
    'Internal to candystore.subscriptions: the events readable after a checkpoint and when the oldest was recorded.';
REVOKE ALL ON FUNCTION @extschema@.subscription_lag(xid8, bigint, text[], int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.subscription_lag(xid8, bigint, text[], int, int) TO candystore_reader;

CREATE VIEW @extschema@.subscriptions WITH (security_invoker = true) AS
SELECT s.name, k.member, s.group_size, s.owner, s.event_types,
       @extschema@.cursor_encode(coalesce(k.xid, s.start_xid), coalesce(k.position, s.start_position)) AS checkpoint,
       l.lag_events,
       pg_catalog.now() - l.oldest_unread_at AS lag_time,
       k.last_read_at, k.last_ack_at, coalesce(k.purged_unread, s.purged_unread) AS purged_unread, s.created_at
  FROM @extschema@.subscription s
  LEFT JOIN @extschema@.subscription_checkpoint k ON k.name = s.name
  CROSS JOIN LATERAL @extschema@.subscription_lag(coalesce(k.xid, s.start_xid),
                                                  coalesce(k.position, s.start_position),
                                                  s.event_types, coalesce(k.member, 0),
                                                  coalesce(s.group_size, 1)) l;
COMMENT ON VIEW @extschema@.subscriptions IS
    'The caller''s subscriptions, a row per member: checkpoint, lag (events readable after it, and how long the oldest has waited), last read and ack, events purged unread.';
GRANT SELECT ON @extschema@.subscriptions TO candystore_reader;

REVOKE ALL ON FUNCTION @extschema@.subscribe(text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.subscription_member(text, int, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.read_subscription(text, int, int, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.ack_subscription(text, text, int, int, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.unsubscribe(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.subscribe(text, text, text[]) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.subscription_member(text, int, int) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.read_subscription(text, int, int, int) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.ack_subscription(text, text, int, int, boolean) TO candystore_reader;
GRANT EXECUTE ON FUNCTION @extschema@.unsubscribe(text) TO candystore_reader;

-- Subscriptions and retention ---------------------------------------------------
-- purge_events() must not leave a subscription's checkpoint before a gap it
-- cannot see: each purge counts, per checkpoint, the purged events the
-- checkpoint had still to read (purged_unread), and read_subscription()
-- refuses to read on until the owner accepts the loss
-- (ack_subscription(..., accept_purged => true)).  A subscription no member
-- has read yet counts on its start; its members inherit the count.  A
-- statement trigger, so purge_events() (C, shared with 0.1.0) is untouched.

CREATE FUNCTION @extschema@.subscriptions_count_purged() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.subscription_checkpoint k SET purged_unread = k.purged_unread + n.n
      FROM (SELECT k2.name, k2.member, count(*) AS n
              FROM @extschema@.subscription_checkpoint k2
              JOIN @extschema@.subscription s ON s.name = k2.name
              JOIN purged p ON (p.xid, p.position) > (k2.xid, k2.position)
             WHERE (s.event_types IS NULL OR p.event_type = ANY (s.event_types))
               AND (s.group_size = 1
                    OR ('x' || right(p.causation_group::text, 7))::bit(28)::int % s.group_size = k2.member)
             GROUP BY k2.name, k2.member) n
     WHERE k.name = n.name AND k.member = n.member;
    UPDATE @extschema@.subscription s SET purged_unread = s.purged_unread + n.n
      FROM (SELECT s2.name, count(*) AS n
              FROM @extschema@.subscription s2
              JOIN purged p ON (p.xid, p.position) > (s2.start_xid, s2.start_position)
             WHERE (s2.event_types IS NULL OR p.event_type = ANY (s2.event_types))
               AND NOT EXISTS (SELECT 1 FROM @extschema@.subscription_checkpoint k WHERE k.name = s2.name)
             GROUP BY s2.name) n
     WHERE s.name = n.name;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.subscriptions_count_purged() IS
    'After purge_events(): counts, per subscription checkpoint, the events it lost unread.';
REVOKE ALL ON FUNCTION @extschema@.subscriptions_count_purged() FROM PUBLIC;

CREATE TRIGGER event_log_purged_unread
    AFTER DELETE ON @extschema@.event_log
    REFERENCING OLD TABLE AS purged
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.subscriptions_count_purged();
-- a purge in replica mode still counts what subscriptions lost
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_purged_unread;

-- Faster catch-up reads: read_all() inlined into its caller's query ----------
-- (replaces the plpgsql SECURITY DEFINER read_all() created above)
-- What read_all() reads: the stored events with the transaction that stored
-- each.  read_all() runs with its caller's rights, so that the planner can
-- inline it into the caller's query (no SECURITY DEFINER, no SET, one
-- SELECT): a catch-up read then costs what the bare index scan costs, where
-- a plpgsql body materialised every batch once more.  Readers see the same
-- events through candystore.events.
CREATE VIEW @extschema@.event_stream AS
SELECT xid, position, event_id, event_type, occurred_at, recorded_at, envelope
  FROM @extschema@.event_log;
COMMENT ON VIEW @extschema@.event_stream IS
    'The stored events with the transaction that stored each (xid), as read_all() reads them.';
GRANT SELECT ON @extschema@.event_stream TO candystore_reader;

-- read_all()'s max_count, checked where the query cannot raise itself.
CREATE FUNCTION @extschema@.checked_max_count(max_count int) RETURNS int
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN max_count;
END
$$;
COMMENT ON FUNCTION @extschema@.checked_max_count(int) IS
    'max_count when it is at least 1; raises otherwise.';

-- The same read as read_partition() without the member's predicate, written
-- as one SQL statement the planner inlines (see event_stream above); its body
-- is bound at creation (BEGIN ATOMIC), so the caller's search_path cannot
-- change what it calls.
CREATE OR REPLACE FUNCTION @extschema@.read_all(after text, max_count int DEFAULT 1000, event_types text[] DEFAULT NULL)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE sql STABLE ROWS 1000
BEGIN ATOMIC
    SELECT @extschema@.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
           e.occurred_at, e.recorded_at, e.envelope
      FROM @extschema@.event_stream e
     WHERE (e.xid, e.position) > ((@extschema@.cursor_decode(after)).xid,
                                  (@extschema@.cursor_decode(after)).position)
       AND e.xid < @extschema@.read_horizon_xid()
       AND (event_types IS NULL OR e.event_type = ANY (event_types))
     ORDER BY e.xid, e.position
     LIMIT @extschema@.checked_max_count(max_count);
END;
COMMENT ON FUNCTION @extschema@.read_all(text, int, text[]) IS
    'Up to max_count events after the cursor (NULL: from the beginning), each exactly once, in a stable order, whatever order their transactions commit in; pass the last row''s cursor back to read on.';
REVOKE ALL ON FUNCTION @extschema@.read_all(text, int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_all(text, int, text[]) TO candystore_reader;

-- Bulk append: append_many(), and import_legacy() of the old table -----------
-- Appending in bulk ---------------------------------------------------------------
-- append() for a batch: the same checks, idempotency, conflicts, causation
-- links and notification, in multi-row inserts (store.c).

CREATE FUNCTION @extschema@.append_many(envelopes jsonb[], routing_keys text[] DEFAULT NULL)
    RETURNS TABLE (ordinality integer, event_id uuid, "position" bigint, outcome text)
    AS 'MODULE_PATHNAME', 'candystore_append_many'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1000
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.append_many(jsonb[], text[]) IS
    'append() for an array of envelopes, in order, all or nothing: one row per envelope (its 1-based ordinality, event id, position, and outcome ''stored'' or ''duplicate'').';
REVOKE ALL ON FUNCTION @extschema@.append_many(jsonb[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.append_many(jsonb[], text[]) TO candystore_writer;

-- Importing the old Candystore table ---------------------------------------------
-- import_legacy() reads a table shaped like the store candystore replaces
-- (SQLAlchemy StoredEvent: id, event_type, source as a string, target,
-- routing_key, timestamp, payload, session_id, a single correlation_id; no
-- version, no agent_context) and appends its rows through append_many().
-- What an envelope needs and the old row lacks is filled in and named in the
-- envelope's "legacy_import" member, beside the old row's other columns as
-- they were; rows the envelope checks refuse go to legacy_import_refusals.

-- The event id of an old row whose id is not a UUID: the name-based UUID
-- (version 3, MD5, RFC 4122) of the old id in a namespace of candystore's own,
-- uuid5(NAMESPACE_URL, 'https://33god.dev/candystore/legacy-event-id'), so a
-- re-run gives the same id and anyone can recompute it
-- (Python: uuid.uuid3(uuid.UUID('c3b247a2-8b3d-5a9c-8340-d5e2e90d962a'), old_id)).
CREATE FUNCTION @extschema@.legacy_event_id(legacy_id text) RETURNS uuid
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
-- bound when created (a SQL-standard body), so no caller's search_path
-- redirects it, and without SET so that a query can inline it; STABLE, as
-- convert_to() is (an IMMUTABLE function with a STABLE body is not inlined)
RETURN pg_catalog.encode(pg_catalog.set_byte(pg_catalog.set_byte(
    pg_catalog.decode(pg_catalog.md5('\xc3b247a28b3d5a9c8340d5e2e90d962a'::bytea || pg_catalog.convert_to(legacy_id, 'UTF8')), 'hex'),
    6, (pg_catalog.get_byte(pg_catalog.decode(pg_catalog.md5('\xc3b247a28b3d5a9c8340d5e2e90d962a'::bytea || pg_catalog.convert_to(legacy_id, 'UTF8')), 'hex'), 6) & 15) | 48),
    8, (pg_catalog.get_byte(pg_catalog.decode(pg_catalog.md5('\xc3b247a28b3d5a9c8340d5e2e90d962a'::bytea || pg_catalog.convert_to(legacy_id, 'UTF8')), 'hex'), 8) & 63) | 128), 'hex')::uuid;
COMMENT ON FUNCTION @extschema@.legacy_event_id(text) IS
    'The event id import_legacy() gives an old row whose id is not a UUID: uuid3 of the old id in namespace c3b247a2-8b3d-5a9c-8340-d5e2e90d962a.';
REVOKE ALL ON FUNCTION @extschema@.legacy_event_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.legacy_event_id(text) TO candystore_reader;

-- jsonb of a text column holding JSON, or NULL when it does not parse.
CREATE FUNCTION @extschema@.legacy_jsonb(doc text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN doc::jsonb;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.legacy_jsonb(text) FROM PUBLIC;

CREATE TABLE @extschema@.legacy_import_refusals (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL,              -- the table read, as named then
    legacy_id   text,                       -- the old row's id
    sqlstate    text NOT NULL,
    reason      text NOT NULL,              -- the error: message, then detail
    envelope    jsonb,                      -- the envelope built from the row
    legacy_row  jsonb NOT NULL,             -- the old row, every column, as read
    refused_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.legacy_import_refusals IS
    'The rows of the last import_legacy() run of each source table that were not stored, and why.';
CREATE INDEX legacy_import_refusals_source_idx ON @extschema@.legacy_import_refusals (source, legacy_id);
REVOKE ALL ON @extschema@.legacy_import_refusals FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.legacy_import_refusals', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.legacy_import_refusals', 'id'), '');

CREATE FUNCTION @extschema@.import_legacy(source regclass, batch_size int DEFAULT 1000,
                                          timestamps_without_zone_are text DEFAULT 'UTC')
    RETURNS TABLE (read bigint, imported bigint, duplicates bigint, refused bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src text := source::text;
    cols jsonb;                 -- column name -> type name
    id_type text;
    ts_expr text;
    payload_expr text;
    corr_expr text;
    rest_expr text;
    q text;
    r record;
    envs jsonb[] := '{}';
    keys text[] := '{}';
    ids text[] := '{}';
    olds jsonb[] := '{}';
    o record;
    n_read bigint := 0;
    n_imported bigint := 0;
    n_duplicates bigint := 0;
    n_refused bigint := 0;
    missing text[];
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = '22023';
    END IF;
    PERFORM now() AT TIME ZONE timestamps_without_zone_are;    -- an unknown zone raises here
    SELECT jsonb_object_agg(a.attname, format_type(a.atttypid, NULL))
      INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT array_agg(c ORDER BY c) INTO missing
      FROM unnest(ARRAY['id', 'event_type', 'source', 'timestamp', 'payload']) c
     WHERE NOT cols ? c;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'table % is not shaped like the old Candystore table', src
            USING ERRCODE = '42703',
                  DETAIL = format('Missing column(s): %s.', array_to_string(missing, ', ')),
                  HINT = 'import_legacy needs columns id, event_type, source, timestamp and payload; target, routing_key, session_id, correlation_id and any others are kept as they are.';
    END IF;
    id_type := cols->>'id';

    -- the time as RFC 3339 in UTC; a time without a zone is read in the zone given
    ts_expr := CASE cols->>'timestamp'
        WHEN 'timestamp with time zone' THEN
            $e$to_char(t."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')$e$
        WHEN 'timestamp without time zone' THEN
            format($e$to_char((t."timestamp" AT TIME ZONE %L) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')$e$,
                   timestamps_without_zone_are)
        ELSE 't."timestamp"::text' END;
    payload_expr := CASE WHEN cols->>'payload' IN ('json', 'jsonb') THEN 't.payload::jsonb'
                         ELSE 'coalesce(@extschema@.legacy_jsonb(t.payload::text), to_jsonb(t.payload))' END;
    -- a correlation id that is not a UUID is a parent when it names an old
    -- row: looked up in the id's index when the two columns have one type,
    -- else among the ids as text (hashed once)
    corr_expr := CASE WHEN cols ? 'correlation_id' THEN format(
        $e$CASE WHEN t.correlation_id IS NULL THEN NULL
                WHEN t.correlation_id::text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                    THEN t.correlation_id::text
                WHEN %s
                    THEN @extschema@.legacy_event_id(t.correlation_id::text)::text END$e$,
        CASE WHEN cols->>'correlation_id' = id_type
             THEN format('EXISTS (SELECT 1 FROM %s parent_row WHERE parent_row.id = t.correlation_id)', src)
             ELSE format('t.correlation_id::text IN (SELECT parent_row.id::text FROM %s parent_row)', src) END)
        ELSE 'NULL::text' END;

    -- the row's other columns as to_jsonb(t) gives them, without converting
    -- the payload once more (jsonb_build_object takes at most 100 arguments)
    SELECT CASE WHEN count(*) <= 50
                THEN 'jsonb_build_object(' || string_agg(format('%L, t.%I', c, c), ', ') || ')'
                ELSE $e$to_jsonb(t) - 'payload' - 'event_type'$e$ END
      INTO rest_expr
      FROM jsonb_object_keys(cols) c WHERE c NOT IN ('payload', 'event_type');

    -- the envelope of each row, built by the query (see the table in
    -- docs/reference.md): the old values where the envelope has a place for
    -- them; what it requires and the row lacks filled in and named in
    -- legacy_import.reconstructed; the rest of the row in legacy_import.row
    q := format($e$
        SELECT t.id::text AS legacy_id, %2$s AS routing_key,
               o.old || jsonb_build_object('event_type', t.event_type, 'payload', %9$s) AS old,
               jsonb_build_object(
                   'event_id', CASE WHEN k.kept THEN t.id::text ELSE @extschema@.legacy_event_id(t.id::text)::text END,
                   'event_type', t.event_type::text,
                   'timestamp', %1$s,
                   'version', '0.0.0',
                   'source', jsonb_build_object('host', t.source::text, 'type', 'system'),
                   'payload', coalesce(p.payload, '{}'))
               || CASE WHEN c.parent IS NULL THEN '{}' ELSE jsonb_build_object('correlation_id', c.parent) END
               || jsonb_build_object('legacy_import', jsonb_build_object(
                      'table', %6$L,
                      'reconstructed', to_jsonb(array_remove(ARRAY[
                          CASE WHEN NOT k.kept THEN 'event_id' END,
                          CASE WHEN %7$L THEN 'timestamp' END,
                          'version', 'source.type',
                          CASE WHEN c.parent <> coalesce(o.old->>'correlation_id', '') THEN 'correlation_id' END,
                          CASE WHEN p.payload IS NULL THEN 'payload' END], NULL)),
                      'row', o.old)) AS envelope
          FROM %5$s t,
               -- OFFSET 0: each computed once per row, not once per use
               LATERAL (SELECT %8$s AS old OFFSET 0) o,
               LATERAL (SELECT CASE WHEN t.id::text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                    THEN t.id::text::uuid <> '00000000-0000-0000-0000-000000000000' END AS kept OFFSET 0) k,
               LATERAL (SELECT %3$s AS payload OFFSET 0) p,
               LATERAL (SELECT %4$s AS parent OFFSET 0) c
         ORDER BY t."timestamp", t.id$e$,
        ts_expr, CASE WHEN cols ? 'routing_key' THEN 't.routing_key::text' ELSE 'NULL::text' END,
        payload_expr, corr_expr, source, src, cols->>'timestamp' = 'timestamp without time zone', rest_expr,
        CASE WHEN cols->>'payload' IN ('json', 'jsonb') THEN 'p.payload' ELSE 'to_jsonb(t.payload)' END);

    DELETE FROM @extschema@.legacy_import_refusals WHERE legacy_import_refusals.source = src;
    FOR r IN EXECUTE q LOOP
        n_read := n_read + 1;
        ids := array_append(ids, r.legacy_id);
        olds := array_append(olds, r.old);
        keys := array_append(keys, r.routing_key);
        envs := array_append(envs, r.envelope);
        IF cardinality(envs) >= batch_size THEN
            SELECT * INTO o FROM @extschema@.import_legacy_batch(src, envs, keys, ids, olds);
            n_imported := n_imported + o.imported;
            n_duplicates := n_duplicates + o.duplicates;
            n_refused := n_refused + o.refused;
            envs := '{}'; keys := '{}'; ids := '{}'; olds := '{}';
        END IF;
    END LOOP;
    IF cardinality(envs) > 0 THEN
        SELECT * INTO o FROM @extschema@.import_legacy_batch(src, envs, keys, ids, olds);
        n_imported := n_imported + o.imported;
        n_duplicates := n_duplicates + o.duplicates;
        n_refused := n_refused + o.refused;
    END IF;
    RETURN QUERY SELECT n_read, n_imported, n_duplicates, n_refused;
END
$$;
COMMENT ON FUNCTION @extschema@.import_legacy(regclass, int, text) IS
    'Appends the rows of a table shaped like the old Candystore table, in batches through append_many(); returns the counts; refused rows go to legacy_import_refusals.  Safe to run again.';
REVOKE ALL ON FUNCTION @extschema@.import_legacy(regclass, int, text) FROM PUBLIC;

-- One batch: append_many(); if a row is refused, the rows one at a time, so
-- that the others are stored and each refusal is recorded with its reason.
-- Only errors caused by the row (classes 22, 23, 54) are refusals; any other
-- error stops the import, and a re-run continues it.
CREATE FUNCTION @extschema@.import_legacy_batch(source text, envs jsonb[], keys text[], ids text[], olds jsonb[],
                                                OUT imported bigint, OUT duplicates bigint, OUT refused bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    outcome text;
    state text;
    msg text;
    detail text;
BEGIN
    imported := 0; duplicates := 0; refused := 0;
    BEGIN
        SELECT count(*) FILTER (WHERE m.outcome = 'stored'), count(*) FILTER (WHERE m.outcome = 'duplicate')
          INTO imported, duplicates
          FROM @extschema@.append_many(envs, keys) m;
        RETURN;
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
        NULL;   -- some row is refused: try them one by one
    END;
    FOR i IN 1 .. cardinality(envs) LOOP
        BEGIN
            SELECT m.outcome INTO outcome FROM @extschema@.append_many(ARRAY[envs[i]], ARRAY[keys[i]]) m;
            IF outcome = 'stored' THEN imported := imported + 1; ELSE duplicates := duplicates + 1; END IF;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
            INSERT INTO @extschema@.legacy_import_refusals (source, legacy_id, sqlstate, reason, envelope, legacy_row)
            VALUES (source, ids[i], state, msg || coalesce(nullif(' (' || detail || ')', ' ()'), ''), envs[i], olds[i]);
            refused := refused + 1;
        END;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.import_legacy_batch(text, jsonb[], text[], text[], jsonb[]) FROM PUBLIC;

-- API tokens of the HTTP API ---------------------
-- (the same objects as sql/install/90_api_tokens.sql)
-- candystore-http logs in as an authenticator role that is a member of
-- candystore_http (and of every role tokens map to), resolves a request's
-- token with api_token_role() as candystore_http, then runs the request's
-- query under SET LOCAL ROLE <the token's role>: PostgreSQL's privileges
-- decide what a token may do.  Only a token's SHA-256 digest is stored.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_http') THEN
        CREATE ROLE candystore_http NOLOGIN;
    END IF;
END
$roles$;
GRANT USAGE ON SCHEMA @extschema@ TO candystore_http;

CREATE TABLE @extschema@.api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_sha256  bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    role          name NOT NULL,
    note          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    name NOT NULL DEFAULT CURRENT_USER,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
COMMENT ON TABLE @extschema@.api_tokens IS
    'Bearer tokens of the HTTP API: the SHA-256 digest of each, the role it maps to, when it expires and whether it was revoked.  The tokens themselves are not stored.';
REVOKE ALL ON @extschema@.api_tokens FROM PUBLIC;
-- pg_dump keeps the tokens (their digests) and the id sequence.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_tokens', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.api_tokens', 'id'), '');

CREATE FUNCTION @extschema@.api_token_random() RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_api_token_random'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.api_token_random() IS
    'A new token: cs_ and 32 bytes of pg_strong_random() in unpadded base64url.';
REVOKE ALL ON FUNCTION @extschema@.api_token_random() FROM PUBLIC;

CREATE FUNCTION @extschema@.api_token_digest(token text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'candystore_api_token_digest'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.api_token_digest(text) IS
    'SHA-256 of the token''s bytes, as api_tokens.token_sha256 holds it.';
REVOKE ALL ON FUNCTION @extschema@.api_token_digest(text) FROM PUBLIC;

-- Runs with its caller's rights: only the extension owner and superusers
-- (who may insert into api_tokens) can create a token, whatever EXECUTE
-- grants someone adds.
CREATE FUNCTION @extschema@.create_api_token(role regrole, expires_at timestamptz, note text DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role_name name;
    role_is_superuser boolean;
    token text;
BEGIN
    IF create_api_token.role IS NULL THEN
        RAISE EXCEPTION 'the role of an API token must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF create_api_token.expires_at IS NULL THEN
        RAISE EXCEPTION 'an API token must have an expiry time'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass e.g. now() + interval ''90 days''; create a new token before it expires.';
    END IF;
    IF create_api_token.expires_at <= now() THEN
        RAISE EXCEPTION 'the expiry time of an API token must be in the future, not %', create_api_token.expires_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT r.rolname, r.rolsuper INTO role_name, role_is_superuser
      FROM pg_catalog.pg_roles r WHERE r.oid = create_api_token.role;
    IF role_is_superuser THEN
        RAISE EXCEPTION 'an API token cannot map to the superuser role "%"', role_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Map tokens to roles such as candystore_reader or candystore_writer, or roles granted them.';
    END IF;

    token := @extschema@.api_token_random();
    INSERT INTO @extschema@.api_tokens (token_sha256, role, note, expires_at)
    VALUES (@extschema@.api_token_digest(token), role_name, create_api_token.note, create_api_token.expires_at);
    RETURN token;
END
$$;
COMMENT ON FUNCTION @extschema@.create_api_token(regrole, timestamptz, text) IS
    'Creates a bearer token of the HTTP API that acts as role until expires_at, and returns it; only its SHA-256 digest is stored, so it is shown this once.  Superuser roles are refused.';
REVOKE ALL ON FUNCTION @extschema@.create_api_token(regrole, timestamptz, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_api_token(id bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.api_tokens t SET revoked_at = now()
     WHERE t.id = revoke_api_token.id AND t.revoked_at IS NULL;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_api_token(bigint) IS
    'Revokes the token with this id (see api_tokens_list): true when it was not revoked yet, false for a revoked or unknown id.  candystore-http stops accepting it within its cache time (10 s).';
REVOKE ALL ON FUNCTION @extschema@.revoke_api_token(bigint) FROM PUBLIC;

CREATE VIEW @extschema@.api_tokens_list AS
SELECT t.id, t.role, t.note, t.created_at, t.created_by, t.expires_at, t.revoked_at,
       CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
            WHEN t.expires_at <= now() THEN 'expired'
            ELSE 'active' END AS state
  FROM @extschema@.api_tokens t;
COMMENT ON VIEW @extschema@.api_tokens_list IS
    'The API tokens without their digests: role, note, who created each and when, expiry, revocation and state (active, expired or revoked).';
REVOKE ALL ON @extschema@.api_tokens_list FROM PUBLIC;

-- One index probe by the digest: the cost does not depend on how much of a
-- guess matches a real token.  Nothing is written (no last-used time): the
-- lookup then works on a hot standby and costs no WAL or row versions per
-- request; the server logs each request with its role instead.
CREATE FUNCTION @extschema@.api_token_role(token text) RETURNS name
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.rolname
      FROM @extschema@.api_tokens t
      JOIN pg_catalog.pg_roles r ON r.rolname = t.role
     WHERE t.token_sha256 = @extschema@.api_token_digest(api_token_role.token)
       AND t.revoked_at IS NULL
       AND t.expires_at > now()
       -- a role made superuser after the token was created is refused too
       AND NOT r.rolsuper
$$;
COMMENT ON FUNCTION @extschema@.api_token_role(text) IS
    'The role a bearer token of the HTTP API acts as; NULL for an unknown, expired or revoked token, or one whose role was dropped or made superuser.  For candystore-http''s authenticator, as candystore_http.';
REVOKE ALL ON FUNCTION @extschema@.api_token_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.api_token_role(text) TO candystore_http;

-- HTTP metrics: events by type ---------------------

-- Events by type, cheaply, for /metrics ------------------------------------
-- Counting the event log by type reads all of it.  The planner's statistics
-- already hold the answer, approximately: the most common event types and
-- their frequencies (pg_stats, refreshed by ANALYZE / autovacuum) times the
-- table's estimated row count.  Readers may not read event_log's statistics
-- themselves (pg_stats shows only tables the caller may select), hence
-- SECURITY DEFINER.  Types beyond the most common values (more than
-- default_statistics_target, or too rare to be sampled) are summed in one
-- row whose event_type is NULL.
CREATE FUNCTION @extschema@.event_type_estimates(OUT event_type text, OUT estimated bigint)
    RETURNS SETOF record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (SELECT greatest(c.reltuples, 0) AS n FROM pg_catalog.pg_class c
                WHERE c.oid = '@extschema@.event_log'::pg_catalog.regclass),
         s AS (SELECT st.most_common_vals::text::text[] AS vals, st.most_common_freqs AS freqs
                 FROM pg_catalog.pg_stats st
                WHERE st.schemaname = '@extschema@' AND st.tablename = 'event_log'
                  AND st.attname = 'event_type'),
         mcv AS (SELECT v.val, v.freq FROM s, unnest(s.vals, s.freqs) AS v(val, freq))
    SELECT mcv.val, round(mcv.freq * t.n)::bigint FROM mcv, t
    UNION ALL
    SELECT NULL, round(greatest(1 - coalesce((SELECT sum(freq) FROM mcv), 0), 0) * t.n)::bigint
      FROM t WHERE t.n > 0
$$;
COMMENT ON FUNCTION @extschema@.event_type_estimates() IS
    'Stored events by type as the planner estimates them (pg_stats most common values times pg_class.reltuples, as of the last ANALYZE); the types it does not list are summed in one row with a NULL event_type.';
REVOKE ALL ON FUNCTION @extschema@.event_type_estimates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_estimates() TO candystore_reader;

-- Signed events ---------------------
-- An envelope may carry "signature": {"alg", "key_id", "value"} over the
-- RFC 8785 canonical form of the rest of the envelope (src/signing.c).  Keys
-- are registered here; candystore.require_signatures names the event types
-- that must be signed.  Secrets (HMAC keys, Ed25519 seeds) are in a table of
-- their own that only the owner can read.

CREATE TABLE @extschema@.signing_keys (
    key_id        text PRIMARY KEY CHECK (octet_length(key_id) BETWEEN 1 AND 200),
    alg           text NOT NULL CHECK (alg IN ('ed25519', 'hmac-sha256')),
    -- Ed25519: the 32-byte public key; HMAC keys are secret, their row has none
    public_key    bytea CHECK (CASE alg WHEN 'ed25519' THEN octet_length(public_key) = 32
                                        ELSE public_key IS NULL END),
    valid_from    timestamptz NOT NULL DEFAULT now(),
    valid_until   timestamptz CHECK (valid_until > valid_from),
    revoked_at    timestamptz,
    registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.signing_keys IS
    'Keys that sign events: a signature verifies only with a key valid (valid_from <= t < valid_until) and not revoked (t < revoked_at) at the time of verification.  register_signing_key() and revoke_signing_key() change it.';
REVOKE ALL ON @extschema@.signing_keys FROM PUBLIC;
GRANT SELECT ON @extschema@.signing_keys TO candystore_reader;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.signing_keys', '');

CREATE TABLE @extschema@.signing_secrets (
    key_id text PRIMARY KEY REFERENCES @extschema@.signing_keys,
    secret bytea NOT NULL CHECK (octet_length(secret) >= 16)
);
COMMENT ON TABLE @extschema@.signing_secrets IS
    'The secret of each signing key that has one (the HMAC key, the 32-byte Ed25519 seed).  Only the owner can read it; verification and signing read it as the owner.';
REVOKE ALL ON @extschema@.signing_secrets FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.signing_secrets', '');

CREATE FUNCTION @extschema@.ed25519_public_key(seed bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'candystore_ed25519_public_key'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION @extschema@.ed25519_public_key(bytea) FROM PUBLIC;

CREATE FUNCTION @extschema@.register_signing_key(
    key_id text, alg text, public_key bytea DEFAULT NULL, secret bytea DEFAULT NULL,
    valid_from timestamptz DEFAULT now(), valid_until timestamptz DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF alg = 'ed25519' THEN
        IF public_key IS NULL AND secret IS NULL THEN
            RAISE EXCEPTION 'an Ed25519 key needs its public key, or its 32-byte seed'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF secret IS NOT NULL THEN
            IF public_key IS NOT NULL AND public_key <> @extschema@.ed25519_public_key(secret) THEN
                RAISE EXCEPTION 'the public key of Ed25519 key "%" is not the one of its seed', key_id
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            public_key := @extschema@.ed25519_public_key(secret);
        END IF;
    ELSIF alg = 'hmac-sha256' THEN
        IF secret IS NULL OR public_key IS NOT NULL THEN
            RAISE EXCEPTION 'an HMAC-SHA256 key has a secret and no public key'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give secret => at least 16 random bytes (32 recommended), shared with the producer.';
        END IF;
    ELSE
        RAISE EXCEPTION 'unknown signature algorithm "%"', alg
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''ed25519'' or ''hmac-sha256''.';
    END IF;
    INSERT INTO @extschema@.signing_keys (key_id, alg, public_key, valid_from, valid_until)
    VALUES (register_signing_key.key_id, register_signing_key.alg, register_signing_key.public_key,
            coalesce(register_signing_key.valid_from, now()), register_signing_key.valid_until);
    IF secret IS NOT NULL THEN
        INSERT INTO @extschema@.signing_secrets (key_id, secret)
        VALUES (register_signing_key.key_id, register_signing_key.secret);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.register_signing_key(text, text, bytea, bytea, timestamptz, timestamptz) IS
    'Registers a signing key: ed25519 with its public key (verify only) or its 32-byte seed (sign too), or hmac-sha256 with its shared secret; valid from valid_from until valid_until (NULL: open).  Rotate by registering a new key_id and letting the old one expire.';
REVOKE ALL ON FUNCTION @extschema@.register_signing_key(text, text, bytea, bytea, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_signing_key(key_id text, revoked_at timestamptz DEFAULT now()) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.signing_keys k
       SET revoked_at = least(coalesce(k.revoked_at, 'infinity'), coalesce(revoke_signing_key.revoked_at, now()))
     WHERE k.key_id = revoke_signing_key.key_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no signing key "%"', key_id USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_signing_key(text, timestamptz) IS
    'Revokes a key from revoked_at on (default now; an earlier revocation stays): signatures with it no longer verify at or after that time.';
REVOKE ALL ON FUNCTION @extschema@.revoke_signing_key(text, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.jcs_canonicalize(value jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_jcs_canonicalize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jcs_canonicalize(jsonb) IS
    'The RFC 8785 (JCS) canonical form of the value; raises 22003 for a number no IEEE double holds exactly.';
REVOKE ALL ON FUNCTION @extschema@.jcs_canonicalize(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.jcs_canonicalize(jsonb) TO candystore_reader;

CREATE FUNCTION @extschema@.verify_event_signature(envelope jsonb, at timestamptz DEFAULT now()) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_verify_event_signature'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.verify_event_signature(jsonb, timestamptz) IS
    'Verifies the envelope''s signature with the keys as they are valid at "at": valid, unsigned, malformed, not_canonical, unknown_key, wrong_algorithm, key_not_yet_valid, key_expired, key_revoked or bad_signature.';
REVOKE ALL ON FUNCTION @extschema@.verify_event_signature(jsonb, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.verify_event_signature(jsonb, timestamptz) TO candystore_reader;

CREATE FUNCTION @extschema@.sign_envelope(envelope jsonb, key_id text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'candystore_sign_envelope'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.sign_envelope(jsonb, text) IS
    'The envelope with its "signature" made (or replaced) with the key, which must have its secret registered and be valid now.';
REVOKE ALL ON FUNCTION @extschema@.sign_envelope(jsonb, text) FROM PUBLIC;

-- Every session drops its cached keys when either table changes (a
-- registration, a revocation), also in replica mode.
CREATE TRIGGER signing_keys_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();
ALTER TABLE @extschema@.signing_keys ENABLE ALWAYS TRIGGER signing_keys_invalidate_caches;
CREATE TRIGGER signing_secrets_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.signing_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();
ALTER TABLE @extschema@.signing_secrets ENABLE ALWAYS TRIGGER signing_secrets_invalidate_caches;

-- Loud dead letters ---------------------------------------------------------------
-- Every dead letter, whoever records it, sends NOTIFY candystore_dead_letter
-- and writes one LOG line at commit, rate-limited (src/dead_letter_alert.c).
-- The ingest worker also consumes the broker's dead-letter queue
-- (candystore.consume_dead_letter_queue) into dead_letters.

-- (the default is set after the column is added: one given in ADD COLUMN
-- would be kept as a "missing value" no fresh install has)
ALTER TABLE @extschema@.dead_letters
    ADD COLUMN broker_dead_lettered boolean,
    ADD COLUMN x_death jsonb;
ALTER TABLE @extschema@.dead_letters ALTER COLUMN broker_dead_lettered SET DEFAULT false;
UPDATE @extschema@.dead_letters SET broker_dead_lettered = false;
ALTER TABLE @extschema@.dead_letters ALTER COLUMN broker_dead_lettered SET NOT NULL;

CREATE FUNCTION @extschema@.dead_letter_alert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'candystore_dead_letter_alert'
    LANGUAGE C;
REVOKE ALL ON FUNCTION @extschema@.dead_letter_alert() FROM PUBLIC;
CREATE TRIGGER dead_letters_alert_insert
    AFTER INSERT ON @extschema@.dead_letters
    FOR EACH ROW EXECUTE FUNCTION @extschema@.dead_letter_alert();
CREATE TRIGGER dead_letters_alert_redrive
    AFTER UPDATE OF redrive_attempts ON @extschema@.dead_letters
    FOR EACH ROW
    WHEN (NEW.redrive_attempts > OLD.redrive_attempts AND NEW.redriven_at IS NULL)
    EXECUTE FUNCTION @extschema@.dead_letter_alert();

-- Partitions: event_log partitioned by position, event_ids ------------------------
-- (20_event_log.sql.)  The 0.1.0 table is renamed; event_log and event_ids
-- are made as a fresh install makes them; every row is copied (positions,
-- ids, causation groups, session keys and transactions kept) and the
-- position sequence goes on where the old one stood; the views and the
-- functions bound to the old table are made again; the old table is
-- dropped.  All in the update's transaction, which holds the lock on the
-- store throughout (docs/operations.md: how long per million events).  The
-- rows land in the default partition: make_partitions() (by hand, or the
-- maintenance job) then moves them into range partitions in one pass.

ALTER TABLE @extschema@.event_log RENAME TO event_log_0_1;

CREATE TABLE @extschema@.event_ids (
    event_id        uuid NOT NULL CONSTRAINT event_ids_pkey PRIMARY KEY,
    position        bigint GENERATED ALWAYS AS IDENTITY,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    correlation_ids uuid[] NOT NULL,
    causation_group uuid NOT NULL
);
COMMENT ON TABLE @extschema@.event_ids IS
    'Every stored event''s id and position (unique across event_log''s partitions) and what the causation walks read.';
COMMENT ON COLUMN @extschema@.event_ids.causation_group IS
    'Bookkeeping for the causation walks, set by append(): the group this event was filed in.';
-- in its final form (the "Index-only causation walks" of 40_trace.sql), so
-- that the rows copied below fill it once
CREATE INDEX event_ids_causation_group_idx ON @extschema@.event_ids
    (causation_group, position, event_id, occurred_at,
     (CASE WHEN pg_catalog.cardinality(correlation_ids) <= 64 THEN correlation_ids END))
    INCLUDE (event_type);
ALTER TABLE @extschema@.event_ids SET (autovacuum_vacuum_insert_threshold = 10000,
                                       autovacuum_vacuum_insert_scale_factor = 0);

CREATE TABLE @extschema@.event_log (
    position        bigint NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,       -- the envelope's "timestamp"
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    routing_key     text,
    correlation_ids uuid[] NOT NULL,            -- parent event ids
    envelope        jsonb NOT NULL
) PARTITION BY RANGE (position);
-- the default partition first, then the columns 0.2.0 adds later in its
-- install script: the catalog ends as a fresh install's
CREATE TABLE @extschema@.event_log_default PARTITION OF @extschema@.event_log DEFAULT;
ALTER TABLE @extschema@.event_log ADD COLUMN causation_group uuid NOT NULL;
ALTER TABLE @extschema@.event_log ADD COLUMN session_key text;
ALTER TABLE @extschema@.event_log ADD COLUMN xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id();
COMMENT ON TABLE @extschema@.event_log IS
    'Every stored event, append-only; read it through candystore.events.';
COMMENT ON COLUMN @extschema@.event_log.causation_group IS
    'Bookkeeping for the causation walks, set by append(): the group this event was filed in.';
COMMENT ON COLUMN @extschema@.event_log.session_key IS
    'Set by append(): coalesce(envelope->''payload''->>''session_id'', envelope->''payload''->>''meeting_id'').';
COMMENT ON COLUMN @extschema@.event_log.xid IS
    'Bookkeeping for read_all(): the transaction that stored the event (its top-level id).';
ALTER TABLE @extschema@.event_log REPLICA IDENTITY FULL;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_ids', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.event_ids', 'position'), '');

CREATE TRIGGER event_log_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_log
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_immutable;
CREATE TRIGGER event_log_rows_immutable
    BEFORE UPDATE OR DELETE ON @extschema@.event_log
    FOR EACH ROW EXECUTE FUNCTION @extschema@.forbid_change();
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_rows_immutable;
CREATE TRIGGER event_ids_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_ids
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
ALTER TABLE @extschema@.event_ids ENABLE ALWAYS TRIGGER event_ids_immutable;
CREATE TRIGGER event_log_purged_unread
    AFTER DELETE ON @extschema@.event_log
    REFERENCING OLD TABLE AS purged
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.subscriptions_count_purged();
ALTER TABLE @extschema@.event_log ENABLE ALWAYS TRIGGER event_log_purged_unread;

CREATE FUNCTION @extschema@.make_partition(first_position bigint, size bigint, count integer DEFAULT 1)
    RETURNS void
    AS 'MODULE_PATHNAME', 'candystore_make_partition'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.make_partition(bigint, bigint, integer) IS
    'Makes count event_log partitions of size positions from first_position on, moving their rows out of the default partition.';
REVOKE ALL ON FUNCTION @extschema@.make_partition(bigint, bigint, integer) FROM PUBLIC;

-- The range partitions of event_log, in position order.
CREATE VIEW @extschema@.event_log_partitions AS
SELECT c.oid::regclass AS partition,
       b.first_position,
       b.end_position - 1 AS last_position
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  CROSS JOIN LATERAL (
      SELECT (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                      'FROM \(''?(\d+)''?\) TO \(''?(\d+)''?\)'))::bigint[] AS r) m
  CROSS JOIN LATERAL (SELECT m.r[1] AS first_position, m.r[2] AS end_position) b
 WHERE i.inhparent = '@extschema@.event_log'::regclass
   AND m.r IS NOT NULL;
COMMENT ON VIEW @extschema@.event_log_partitions IS
    'event_log''s range partitions: positions first to last.';
REVOKE ALL ON @extschema@.event_log_partitions FROM PUBLIC;

CREATE FUNCTION @extschema@.make_partitions(ahead integer DEFAULT 4, size bigint DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newest record;
    width bigint;
    next_first bigint;
    reached bigint;
    made integer;
BEGIN
    IF ahead < 1 THEN
        RAISE EXCEPTION 'ahead must be at least 1, not %', ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO newest FROM @extschema@.event_log_partitions ORDER BY first_position DESC LIMIT 1;
    width := coalesce(size, newest.last_position - newest.first_position + 1, 1000000);
    next_first := coalesce(newest.last_position + 1, 1);
    -- the highest position handed out so far (or 0)
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO reached
      FROM @extschema@.event_ids_position_seq;
    -- every partition in one call: rows to move leave the default partition at once
    made := greatest(0, ceil((reached + ahead::numeric * width - next_first + 1) / width))::integer;
    IF made > 0 THEN
        PERFORM @extschema@.make_partition(next_first, width, made);
    END IF;
    RETURN QUERY SELECT format('event_log_p%s', next_first + i * width)
                   FROM pg_catalog.generate_series(0, made - 1) i;
END
$$;
COMMENT ON FUNCTION @extschema@.make_partitions(integer, bigint) IS
    'Makes event_log partitions until ahead partitions lie beyond the last position handed out, each of size positions (by default the newest partition''s); returns their names.';
REVOKE ALL ON FUNCTION @extschema@.make_partitions(integer, bigint) FROM PUBLIC;

ALTER TABLE @extschema@.event_log_default ADD CONSTRAINT event_log_default_pkey PRIMARY KEY (position);
CREATE INDEX event_log_default_event_type_idx ON @extschema@.event_log_default (event_type, position);
CREATE INDEX event_log_default_occurred_at_idx ON @extschema@.event_log_default (occurred_at);
-- hash indexes, as 20_event_log.sql and 40_trace.sql say why (both only
-- probed by equality); a 0.1.0 session id too long for a btree entry fits
CREATE INDEX event_log_default_event_id_idx ON @extschema@.event_log_default USING hash (event_id);
CREATE INDEX event_log_default_session_idx ON @extschema@.event_log_default USING hash (session_key)
    WHERE session_key IS NOT NULL;
CREATE INDEX event_log_default_xid_idx ON @extschema@.event_log_default (xid, position)
    WITH (fillfactor = 100, deduplicate_items = off);
CREATE TRIGGER event_log_truncate_refused BEFORE TRUNCATE ON @extschema@.event_log_default
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
ALTER TABLE @extschema@.event_log_default ENABLE ALWAYS TRIGGER event_log_truncate_refused;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_log_default', '');

CREATE FUNCTION @extschema@.guard_partitions() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'candystore_guard_partitions'
    LANGUAGE C;
COMMENT ON FUNCTION @extschema@.guard_partitions() IS
    'Refuses DROP TABLE of event_log or a partition, DETACH PARTITION, and ATTACH PARTITION of a table holding rows, outside candystore''s own functions.';
REVOKE ALL ON FUNCTION @extschema@.guard_partitions() FROM PUBLIC;
CREATE EVENT TRIGGER candystore_guard_partitions ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TABLE')
    EXECUTE FUNCTION @extschema@.guard_partitions();
-- ALWAYS: event triggers too are off with session_replication_role = replica
ALTER EVENT TRIGGER candystore_guard_partitions ENABLE ALWAYS;

-- Every row, as it was.
INSERT INTO @extschema@.event_ids (event_id, position, event_type, occurred_at, correlation_ids, causation_group)
    OVERRIDING SYSTEM VALUE
SELECT event_id, position, event_type, occurred_at, correlation_ids, causation_group
  FROM @extschema@.event_log_0_1;
INSERT INTO @extschema@.event_log (position, event_id, event_type, occurred_at, recorded_at, routing_key,
                                   correlation_ids, envelope, causation_group, session_key, xid)
SELECT position, event_id, event_type, occurred_at, recorded_at, routing_key,
       correlation_ids, envelope, causation_group, session_key, xid
  FROM @extschema@.event_log_0_1;
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('@extschema@.event_ids', 'position'),
                         s.last_value, s.is_called)
  FROM @extschema@.event_log_position_seq s;

-- What was bound to the old table, bound to the new one.
CREATE OR REPLACE VIEW @extschema@.events AS
SELECT position,
       event_id,
       event_type,
       occurred_at,
       recorded_at,
       envelope->>'version'     AS version,
       envelope->'source'       AS source,
       correlation_ids,
       envelope->'agent_context' AS agent_context,
       envelope->'trace_context' AS trace_context,
       envelope->'payload'      AS payload,
       routing_key,
       envelope
  FROM @extschema@.event_log;
CREATE OR REPLACE VIEW @extschema@.event_stream AS
SELECT xid, position, event_id, event_type, occurred_at, recorded_at, envelope
  FROM @extschema@.event_log;
CREATE OR REPLACE VIEW @extschema@.read_horizon AS
SELECT @extschema@.read_horizon_xid() AS horizon,
       o.xid AS oldest_xid, o.pid AS oldest_pid, o.datname AS oldest_database,
       o.usename AS oldest_user, o.xact_start AS oldest_xact_start,
       pg_catalog.now() - o.xact_start AS oldest_age, o.state AS oldest_state, o.prepared AS oldest_is_prepared,
       (SELECT pg_catalog.count(*) FROM @extschema@.event_log e
         WHERE e.xid >= @extschema@.read_horizon_xid()) AS waiting_events
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (
        SELECT t.* FROM (
            SELECT a.backend_xid AS xid, a.pid, a.datname::text AS datname, a.usename::text AS usename,
                   a.xact_start, a.state, false AS prepared
              FROM pg_catalog.pg_stat_activity a
             WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid()
            UNION ALL
            SELECT p.transaction, NULL, p.database::text, p.owner::text, p.prepared, 'prepared', true
              FROM pg_catalog.pg_prepared_xacts p) t
         ORDER BY pg_catalog.age(t.xid) DESC
         LIMIT 1) o ON true;
CREATE OR REPLACE FUNCTION @extschema@.subscription_lag(xid xid8, "position" bigint, event_types text[],
                                              member int, group_size int,
                                              OUT lag_events bigint, OUT oldest_unread_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT count(*), min(e.recorded_at)
      FROM @extschema@.event_log e
     WHERE (e.xid, e.position) > (subscription_lag.xid, subscription_lag.position)
       AND e.xid < @extschema@.read_horizon_xid()
       AND (subscription_lag.event_types IS NULL OR e.event_type = ANY (subscription_lag.event_types))
       AND (subscription_lag.group_size = 1
            OR ('x' || right(e.causation_group::text, 7))::bit(28)::int % subscription_lag.group_size
               = subscription_lag.member);
END;
CREATE OR REPLACE FUNCTION @extschema@.get_event(event_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.envelope
      FROM @extschema@.event_ids i
      JOIN @extschema@.event_log l ON l.position = i.position
     WHERE i.event_id = get_event.event_id
$$;
-- SECURITY DEFINER: it finds the event through event_ids (one probe whatever
-- its partition), which readers cannot read.
CREATE OR REPLACE FUNCTION @extschema@.events_caused_by(event_id uuid) RETURNS SETOF jsonb
    LANGUAGE sql STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.envelope
      FROM @extschema@.descendants(events_caused_by.event_id) d
      JOIN @extschema@.event_ids i ON i.event_id = d.event_id
      JOIN @extschema@.event_log l ON l.position = i.position
     ORDER BY l.position
$$;

DROP TABLE @extschema@.event_log_0_1;
REVOKE ALL ON @extschema@.event_log FROM PUBLIC;
REVOKE ALL ON @extschema@.event_ids FROM PUBLIC;

-- schedule_maintenance() also premakes partitions: maintenance_jobs() is made
-- again, in its final form, under "Event retention by pg_cron" below.

-- Monitoring: event_log's partitions ------------------------------------------------
-- One row per partition (the default one last): its positions, size, rows
-- (the planner's estimate), the newest event (purge_events(older_than) drops
-- it once that is older than older_than, unless unsent outbox rows or a
-- subscription hold it), and the outbox rows it holds unsent.
CREATE VIEW @extschema@.partitions AS
SELECT c.oid::regclass AS partition,
       p.first_position,
       p.last_position,
       pg_catalog.pg_total_relation_size(c.oid) AS bytes,
       greatest(c.reltuples, 0)::bigint AS estimated_events,
       CASE WHEN p.first_position IS NULL
            THEN (SELECT max(d.occurred_at) FROM @extschema@.event_log_default d)
            ELSE (SELECT max(e.occurred_at) FROM @extschema@.event_log e
                   WHERE e.position BETWEEN p.first_position AND p.last_position)
       END AS newest_occurred_at,
       (SELECT count(*) FROM @extschema@.outbox o
         WHERE o.published_at IS NULL AND p.first_position IS NOT NULL
           AND o.position BETWEEN p.first_position AND p.last_position) AS unsent_outbox_rows
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  LEFT JOIN @extschema@.event_log_partitions p ON p.partition = c.oid::regclass
 WHERE i.inhparent = '@extschema@.event_log'::regclass;
COMMENT ON VIEW @extschema@.partitions IS
    'event_log''s partitions: positions, size, estimated rows, newest event and unsent outbox rows.';

-- One row: how many partitions, how big, the oldest and newest, how many
-- positions are made ahead, and what retention would do next.
CREATE VIEW @extschema@.partition_status AS
WITH reached AS (
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS position
      FROM @extschema@.event_ids_position_seq),
ranged AS (SELECT * FROM @extschema@.partitions WHERE first_position IS NOT NULL),
oldest AS (SELECT * FROM ranged ORDER BY first_position LIMIT 1),
newest AS (SELECT * FROM ranged ORDER BY first_position DESC LIMIT 1)
SELECT (SELECT count(*) FROM ranged) AS partitions,
       (SELECT sum(bytes) FROM @extschema@.partitions)::bigint AS bytes,
       (SELECT count(*) FROM @extschema@.event_log_default) AS events_in_default_partition,
       (SELECT partition FROM oldest) AS oldest_partition,
       (SELECT partition FROM newest) AS newest_partition,
       (SELECT last_position FROM newest) - (SELECT position FROM reached) AS positions_made_ahead,
       CASE
         WHEN NOT EXISTS (SELECT FROM oldest) THEN 'none: no range partitions yet; run make_partitions()'
         WHEN (SELECT last_position FROM oldest) > (SELECT position FROM reached)
           THEN 'none: the oldest partition is still being filled'
         WHEN (SELECT unsent_outbox_rows FROM oldest) > 0
           THEN format('%s is kept while it holds %s unsent outbox rows',
                       (SELECT partition FROM oldest), (SELECT unsent_outbox_rows FROM oldest))
         ELSE format('purge_events(older_than) detaches %s into candystore_purged once older_than < %s (unless a subscription has yet to read it); drop_purged_partitions() drops it later',
                     (SELECT partition FROM oldest),
                     pg_catalog.date_trunc('second', pg_catalog.now() - (SELECT newest_occurred_at FROM oldest)))
       END AS next_retention_action;
COMMENT ON VIEW @extschema@.partition_status IS
    'event_log''s partitions in one row: count, bytes, oldest and newest, positions made ahead, the next retention action.';
REVOKE ALL ON @extschema@.partitions, @extschema@.partition_status FROM PUBLIC;
GRANT SELECT ON @extschema@.partitions, @extschema@.partition_status TO pg_monitor;

-- Archives ---------------------
-- A run of positions to a gzip-compressed JSON Lines file on the server, with
-- a manifest beside it, and back (src/archive.c; docs/operations.md,
-- "Archives").  Server files: the caller needs pg_write_server_files (to
-- archive) or pg_read_server_files (to restore), or superuser, checked as
-- COPY checks them; EXECUTE is granted to no one but the owner.

CREATE FUNCTION @extschema@.archive_events(path text, first_position bigint, last_position bigint)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'candystore_archive_events'
    LANGUAGE C VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.archive_events(text, bigint, bigint) IS
    'Writes the events of positions first_position..last_position to path (gzip JSON Lines, never overwriting) and path.manifest.json; returns the manifest.';
REVOKE ALL ON FUNCTION @extschema@.archive_events(text, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.archive_partition(partition regclass, path text) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lo bigint;
    hi bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_inherits
                    WHERE inhrelid = partition
                      AND inhparent = '@extschema@.event_log'::regclass) THEN
        RAISE EXCEPTION '% is not a partition of candystore.event_log', partition
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('SELECT min(position), max(position) FROM %s', partition) INTO lo, hi;
    -- An empty partition: positions 0..0, which no event holds.
    RETURN @extschema@.archive_events(path, coalesce(lo, 0), coalesce(hi, 0));
END
$$;
COMMENT ON FUNCTION @extschema@.archive_partition(regclass, text) IS
    'archive_events() of the positions one partition of event_log holds.';
REVOKE ALL ON FUNCTION @extschema@.archive_partition(regclass, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.restore_archive(path text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'candystore_restore_archive'
    LANGUAGE C VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.restore_archive(text) IS
    'Checks an archive against its manifest and appends its envelopes through append_many() at new positions; returns the counts.  Restoring twice stores nothing new.';
REVOKE ALL ON FUNCTION @extschema@.restore_archive(text) FROM PUBLIC;

-- Cells ---------------------
-- A cell is one independent candystore installation that stores its share of
-- the stream: RabbitMQ's consistent-hash exchange splits the messages between
-- the cells' queues by a flow key (candystore.cell_exchange and friends, read
-- by the ingest worker).  A reader merges the cells with one cells cursor:
-- '<cell>:<cursor>' entries, one per cell, joined by ',' in cell order, where
-- <cursor> is that cell's read_all() cursor.  Each cell's read_cell() reads
-- on from its own entry (none: from the beginning) and the reader folds each
-- row's cursor back in with cells_cursor_advance().  docs/scaling.md has the
-- procedure and its limits.

CREATE FUNCTION @extschema@.cell_id() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
RETURN NULLIF(pg_catalog.current_setting('candystore.cell_id', true), '');
COMMENT ON FUNCTION @extschema@.cell_id() IS
    'This installation''s cell id (candystore.cell_id), NULL when it is not a cell.';
GRANT EXECUTE ON FUNCTION @extschema@.cell_id() TO candystore_reader;

-- A cells cursor taken apart and checked: one row per cell; NULL or '' has
-- none.  Malformed, or naming a cell twice, raises.
CREATE FUNCTION @extschema@.cells_cursor_entries(cells_cursor text)
    RETURNS TABLE(cell text, cursor text)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF cells_cursor IS NULL OR cells_cursor = '' THEN
        RETURN;
    END IF;
    IF cells_cursor !~ '^[A-Za-z0-9_-]{1,63}:[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}(,[A-Za-z0-9_-]{1,63}:[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15})*$' THEN
        RAISE EXCEPTION 'invalid cells cursor: "%"', left(cells_cursor, 100)
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'A cells cursor is "<cell>:<cursor>" entries joined by ",", each a cursor read_cell() returned.',
                  HINT = 'Pass NULL to read every cell from the beginning.';
    END IF;
    RETURN QUERY
        SELECT split_part(e, ':', 1), split_part(e, ':', 2)
          FROM unnest(string_to_array(cells_cursor, ',')) e;
    IF (SELECT count(DISTINCT split_part(e, ':', 1)) <> count(*)
          FROM unnest(string_to_array(cells_cursor, ',')) e) THEN
        RAISE EXCEPTION 'cells cursor "%" names a cell twice', left(cells_cursor, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Fold cursors in with cells_cursor_advance(), which keeps one entry per cell.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.cells_cursor_entries(text) IS
    'A cells cursor taken apart: one (cell, cursor) row per cell; raises for a malformed one.';
GRANT EXECUTE ON FUNCTION @extschema@.cells_cursor_entries(text) TO candystore_reader;

CREATE FUNCTION @extschema@.cells_cursor_advance(cells_cursor text, cursor text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF cursor IS NULL OR cursor !~ '^[A-Za-z0-9_-]{1,63}:[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}$' THEN
        RAISE EXCEPTION 'invalid cell cursor: "%"', left(coalesce(cursor, 'NULL'), 100)
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'A cell cursor is the cursor of a row read_cell() returned: "<cell>:<cursor>".';
    END IF;
    RETURN (SELECT string_agg(c.cell || ':' || c.cursor, ',' ORDER BY c.cell COLLATE "C")
              FROM (SELECT e.cell, e.cursor
                      FROM @extschema@.cells_cursor_entries(cells_cursor) e
                     WHERE e.cell <> split_part(cells_cursor_advance.cursor, ':', 1)
                    UNION ALL
                    SELECT split_part(cells_cursor_advance.cursor, ':', 1),
                           split_part(cells_cursor_advance.cursor, ':', 2)) c);
END
$$;
COMMENT ON FUNCTION @extschema@.cells_cursor_advance(text, text) IS
    'The cells cursor with the entry of cursor''s cell replaced by cursor (a row''s cursor from read_cell()); the other cells'' entries kept.';
GRANT EXECUTE ON FUNCTION @extschema@.cells_cursor_advance(text, text) TO candystore_reader;

CREATE FUNCTION @extschema@.read_cell(after text, max_count int DEFAULT 1000, event_types text[] DEFAULT NULL)
    RETURNS TABLE(cell_id text, cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql STABLE ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    this_cell text := @extschema@.cell_id();
BEGIN
    IF this_cell IS NULL THEN
        RAISE EXCEPTION 'this installation is not a cell'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'candystore.cell_id is not set.',
                  HINT = 'Set candystore.cell_id in postgresql.conf, or read a single installation with read_all().';
    END IF;
    RETURN QUERY
        SELECT this_cell, this_cell || ':' || r.cursor, r.position, r.event_id, r.event_type,
               r.occurred_at, r.recorded_at, r.envelope
          FROM @extschema@.read_all((SELECT e.cursor FROM @extschema@.cells_cursor_entries(after) e
                                      WHERE e.cell = this_cell), max_count, event_types) r;
END
$$;
COMMENT ON FUNCTION @extschema@.read_cell(text, int, text[]) IS
    'read_all() of this cell for a reader merging cells: reads on from this cell''s entry of the cells cursor after (none: the beginning); each row''s cursor is "<cell>:<cursor>", to fold into the cells cursor with cells_cursor_advance().';
REVOKE ALL ON FUNCTION @extschema@.read_cell(text, int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_cell(text, int, text[]) TO candystore_reader;

-- Erasure ---------------------
-- erase() and erase_subject() replace the personal content of stored events by
-- a tombstone (docs/operations.md, "Erasure"): the envelope keeps event_id,
-- event_type, timestamp, version, source (without meta), the parents and
-- trace_context; its payload becomes {"candystore_erasure": {...}} naming the
-- erasure and the SHA-256 of the original envelope's text, so a redelivered
-- original is recognised as a duplicate.  Positions, times, event_ids and the
-- causation columns do not change.  Erasure is the one UPDATE the immutability
-- triggers let through: the C function sets a flag no SQL can reach around its
-- own statement.  candystore_eraser may erase (EXECUTE is its only grant).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'candystore_eraser') THEN
        CREATE ROLE candystore_eraser NOLOGIN;
    END IF;
END
$roles$;
GRANT USAGE ON SCHEMA @extschema@ TO candystore_eraser;

-- Where the subject (a person, a participant id) sits in a payload, per event type.
CREATE TABLE @extschema@.subject_paths (
    event_type    text NOT NULL,
    path          text NOT NULL CHECK (path::jsonpath IS NOT NULL),   -- a jsonpath applied to the payload
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, path)
);
COMMENT ON TABLE @extschema@.subject_paths IS
    'Per event type, the payload paths (jsonpath) whose values name the subject erase_subject() erases.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.subject_paths', '');
REVOKE ALL ON @extschema@.subject_paths FROM PUBLIC;
GRANT SELECT ON @extschema@.subject_paths TO candystore_eraser;

-- The audit: who erased which events when and why; never what they held.
CREATE TABLE @extschema@.erasures (
    erasure_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    erased_by   name NOT NULL,           -- current_user of the call
    session_user_name name NOT NULL,     -- the login role behind it
    reason      text NOT NULL,
    by_subject  boolean NOT NULL,        -- erase_subject() (the subject itself is not kept)
    events      bigint NOT NULL
);
COMMENT ON TABLE @extschema@.erasures IS
    'One row per erase()/erase_subject() call: who, when, why, how many events; no content.';
CREATE TABLE @extschema@.erased_events (
    erasure_id bigint NOT NULL REFERENCES @extschema@.erasures,
    event_id   uuid NOT NULL,
    position   bigint NOT NULL,
    PRIMARY KEY (erasure_id, event_id)
);
COMMENT ON TABLE @extschema@.erased_events IS
    'The events each erasure replaced by a tombstone.';
CREATE INDEX erased_events_event_id_idx ON @extschema@.erased_events (event_id);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.erasures', '');
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('@extschema@.erasures', 'erasure_id'), '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.erased_events', '');
REVOKE ALL ON @extschema@.erasures FROM PUBLIC;
REVOKE ALL ON @extschema@.erased_events FROM PUBLIC;
GRANT SELECT ON @extschema@.erasures TO candystore_eraser;
GRANT SELECT ON @extschema@.erased_events TO candystore_eraser;
-- The audit is kept as the events are: only erase() writes it.
CREATE TRIGGER erasures_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.erasures
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
CREATE TRIGGER erased_events_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.erased_events
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_change();
-- ALWAYS: also with session_replication_role = replica
ALTER TABLE @extschema@.erasures ENABLE ALWAYS TRIGGER erasures_immutable;
ALTER TABLE @extschema@.erased_events ENABLE ALWAYS TRIGGER erased_events_immutable;

CREATE FUNCTION @extschema@.envelope_digest(envelope jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'candystore_envelope_digest'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.envelope_digest(jsonb) IS
    'The hex SHA-256 of the envelope''s jsonb text: what a tombstone keeps of the original.';

CREATE FUNCTION @extschema@.register_subject_path(event_type text, path jsonpath) RETURNS void
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO @extschema@.subject_paths (event_type, path)
    VALUES (register_subject_path.event_type, register_subject_path.path::text)
    ON CONFLICT DO NOTHING
$$;
COMMENT ON FUNCTION @extschema@.register_subject_path(text, jsonpath) IS
    'Registers a payload path (jsonpath) naming the subject of events of this type, for erase_subject().';
REVOKE ALL ON FUNCTION @extschema@.register_subject_path(text, jsonpath) FROM PUBLIC;

CREATE FUNCTION @extschema@.unregister_subject_path(event_type text, path jsonpath) RETURNS boolean
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM @extschema@.subject_paths s
         WHERE s.event_type = unregister_subject_path.event_type
           AND s.path = unregister_subject_path.path::text
        RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;
COMMENT ON FUNCTION @extschema@.unregister_subject_path(text, jsonpath) IS
    'Removes a registered subject path; returns whether it was registered.';
REVOKE ALL ON FUNCTION @extschema@.unregister_subject_path(text, jsonpath) FROM PUBLIC;

CREATE FUNCTION @extschema@.erase(event_ids uuid[], reason text,
                                  OUT erasure_id bigint, OUT events bigint)
    AS 'MODULE_PATHNAME', 'candystore_erase'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp
    -- compiling a one-off statement over every partition costs more than it saves
    SET jit = off;
COMMENT ON FUNCTION @extschema@.erase(uuid[], text) IS
    'Replaces the content of these stored events by tombstones and records the erasure; returns its id and how many events it erased (already erased ones are skipped).';
REVOKE ALL ON FUNCTION @extschema@.erase(uuid[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.erase(uuid[], text) TO candystore_eraser;

CREATE FUNCTION @extschema@.erase_subject(subject text, reason text,
                                          OUT erasure_id bigint, OUT events bigint)
    AS 'MODULE_PATHNAME', 'candystore_erase_subject'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp
    -- compiling a one-off statement over every partition costs more than it saves
    SET jit = off;
COMMENT ON FUNCTION @extschema@.erase_subject(text, text) IS
    'erase() of every stored event whose payload names the subject at a registered subject path of its type.';
REVOKE ALL ON FUNCTION @extschema@.erase_subject(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.erase_subject(text, text) TO candystore_eraser;


-- Authorization by event type ---------------------
-- A role restricted by grants here sees and writes only the event types its
-- patterns match (src/event_type_grants.c).  A role is restricted once it,
-- or a role it inherits, has a grant; the owner and superusers never are;
-- with no grants at all nothing changes.  Every reading function, view and
-- write path applies event_type_visible() for the invoking role (the outer
-- user: the session's role or SET ROLE's, which SECURITY DEFINER does not
-- change).

CREATE TABLE @extschema@.event_type_grants (
    grantee    regrole NOT NULL,
    pattern    text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grantee, pattern)
);
COMMENT ON TABLE @extschema@.event_type_grants IS
    'Event type patterns granted to roles by grant_event_types(): a role with a grant (its own or inherited) sees and writes only the event types one of its patterns matches.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_type_grants', '');
REVOKE ALL ON @extschema@.event_type_grants FROM PUBLIC;

-- Every session drops its caches of the grants when they change (table_watch.c).
CREATE TRIGGER event_type_grants_invalidate_caches
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_type_grants
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schemas_changed();
ALTER TABLE @extschema@.event_type_grants ENABLE ALWAYS TRIGGER event_type_grants_invalidate_caches;

CREATE FUNCTION @extschema@.event_type_visible(event_type text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'candystore_event_type_visible'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.event_type_visible(text) IS
    'Whether the invoking role (the session''s or SET ROLE''s) may see and write events of this type.';
REVOKE ALL ON FUNCTION @extschema@.event_type_visible(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_visible(text) TO candystore_reader;

CREATE FUNCTION @extschema@.event_type_patterns() RETURNS text[]
    AS 'MODULE_PATHNAME', 'candystore_event_type_patterns'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.event_type_patterns() IS
    'The event type patterns the invoking role is restricted to (granted to it or to a role it inherits), or NULL when it is not restricted.';
REVOKE ALL ON FUNCTION @extschema@.event_type_patterns() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_patterns() TO candystore_reader;

CREATE FUNCTION @extschema@.event_type_pattern_matches(pattern text, event_type text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'candystore_event_type_pattern_matches'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.event_type_pattern_matches(text, text) IS
    'Whether the event type pattern matches the event type ("*" one dot-separated segment, "#" zero or more); raises 22023 for a malformed pattern.';
REVOKE ALL ON FUNCTION @extschema@.event_type_pattern_matches(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.event_type_pattern_matches(text, text) TO candystore_reader;

CREATE FUNCTION @extschema@.grant_event_types(role regrole, patterns text[]) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added integer;
BEGIN
    IF role IS NULL OR patterns IS NULL OR cardinality(patterns) = 0 OR array_position(patterns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'grant_event_types needs a role and at least one pattern, none of them NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- raises 22023 for a malformed pattern, before anything is granted
    PERFORM @extschema@.event_type_pattern_matches(p, 'x.y') FROM unnest(patterns) p;
    INSERT INTO @extschema@.event_type_grants (grantee, pattern)
    SELECT DISTINCT role, p FROM unnest(patterns) p
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END
$$;
COMMENT ON FUNCTION @extschema@.grant_event_types(regrole, text[]) IS
    'Lets the role (and the roles that inherit it) see and write the event types the patterns match; its first grant restricts it to its grants.  Returns how many patterns were new.';
REVOKE ALL ON FUNCTION @extschema@.grant_event_types(regrole, text[]) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_event_types(role regrole, patterns text[] DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed integer;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'revoke_event_types needs a role' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.event_type_pattern_matches(p, 'x.y') FROM unnest(patterns) p;
    DELETE FROM @extschema@.event_type_grants g
     WHERE g.grantee = role AND (patterns IS NULL OR g.pattern = ANY (patterns));
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_event_types(regrole, text[]) IS
    'Removes the role''s grants of these patterns (NULL: all of them); returns how many.  A role left with no grant (nor an inherited one) is no longer restricted.';
REVOKE ALL ON FUNCTION @extschema@.revoke_event_types(regrole, text[]) FROM PUBLIC;

-- The reading functions and views show the invoking role only the event types it may see.

CREATE OR REPLACE VIEW @extschema@.events AS
SELECT position,
       event_id,
       event_type,
       occurred_at,
       recorded_at,
       envelope->>'version'     AS version,
       envelope->'source'       AS source,
       correlation_ids,
       envelope->'agent_context' AS agent_context,
       envelope->'trace_context' AS trace_context,
       envelope->'payload'      AS payload,
       routing_key,
       envelope
  FROM @extschema@.event_log
 WHERE @extschema@.event_type_visible(event_type);
COMMENT ON VIEW @extschema@.events IS
    'The stored events the invoking role may see, one row each, in the envelope''s own terms.';

CREATE OR REPLACE VIEW @extschema@.event_stream AS
SELECT xid, position, event_id, event_type, occurred_at, recorded_at, envelope
  FROM @extschema@.event_log
 WHERE @extschema@.event_type_visible(event_type);
COMMENT ON VIEW @extschema@.event_stream IS
    'The stored events the invoking role may see with the transaction that stored each (xid), as read_all() reads them.';

CREATE OR REPLACE FUNCTION @extschema@.get_event(event_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.envelope
      FROM @extschema@.event_ids i
      JOIN @extschema@.event_log l ON l.position = i.position
     WHERE i.event_id = get_event.event_id
       AND @extschema@.event_type_visible(l.event_type)
$$;
COMMENT ON FUNCTION @extschema@.get_event(uuid) IS
    'The envelope exactly as it was appended, or NULL (also for an event of a type the invoking role may not see).';

CREATE OR REPLACE FUNCTION @extschema@.read_partition(after text, max_count int, event_types text[],
                                            member int, group_size int)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    horizon xid8;
BEGIN
    IF max_count IS NULL OR max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be at least 1, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF group_size IS NULL OR group_size < 1 OR member IS NULL OR member < 0 OR member >= group_size THEN
        RAISE EXCEPTION 'member % of a group of % does not exist',
                        coalesce(member::text, 'NULL'), coalesce(group_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Members are numbered from 0 to group_size - 1.';
    END IF;
    c := @extschema@.cursor_decode(after);
    horizon := @extschema@.read_horizon_xid();
    RETURN QUERY
        SELECT @extschema@.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
               e.occurred_at, e.recorded_at, e.envelope
          FROM @extschema@.event_log e
         WHERE (e.xid, e.position) > (c.xid, c.position)
           AND e.xid < horizon
           AND (read_partition.event_types IS NULL OR e.event_type = ANY (read_partition.event_types))
           AND @extschema@.event_type_visible(e.event_type)
           AND (group_size = 1
                OR ('x' || right(e.causation_group::text, 7))::bit(28)::int % group_size = member)
         ORDER BY e.xid, e.position
         LIMIT max_count;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.events_caused_by(event_id uuid) RETURNS SETOF jsonb
    LANGUAGE sql STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.envelope
      FROM @extschema@.descendants(events_caused_by.event_id) d
      JOIN @extschema@.event_ids i ON i.event_id = d.event_id
      JOIN @extschema@.event_log l ON l.position = i.position
     WHERE @extschema@.event_type_visible(l.event_type)
     ORDER BY l.position
$$;

CREATE OR REPLACE FUNCTION @extschema@.session_timeline(session_id text)
    RETURNS TABLE("position" bigint, event_id uuid, event_type text, occurred_at timestamptz, envelope jsonb)
    LANGUAGE sql STABLE STRICT
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.position, l.event_id, l.event_type, l.occurred_at, l.envelope
      FROM @extschema@.event_log l
     WHERE l.session_key = session_timeline.session_id
       AND @extschema@.event_type_visible(l.event_type)
     ORDER BY l.occurred_at, l.position
$$;

CREATE OR REPLACE FUNCTION @extschema@.subscription_lag(xid xid8, "position" bigint, event_types text[],
                                              member int, group_size int,
                                              OUT lag_events bigint, OUT oldest_unread_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT count(*), min(e.recorded_at)
      FROM @extschema@.event_log e
     WHERE (e.xid, e.position) > (subscription_lag.xid, subscription_lag.position)
       AND e.xid < @extschema@.read_horizon_xid()
       AND (subscription_lag.event_types IS NULL OR e.event_type = ANY (subscription_lag.event_types))
       AND @extschema@.event_type_visible(e.event_type)
       AND (subscription_lag.group_size = 1
            OR ('x' || right(e.causation_group::text, 7))::bit(28)::int % subscription_lag.group_size
               = subscription_lag.member);
END;

CREATE OR REPLACE FUNCTION @extschema@.event_type_estimates(OUT event_type text, OUT estimated bigint)
    RETURNS SETOF record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (SELECT greatest(c.reltuples, 0) AS n FROM pg_catalog.pg_class c
                WHERE c.oid = '@extschema@.event_log'::pg_catalog.regclass),
         s AS (SELECT st.most_common_vals::text::text[] AS vals, st.most_common_freqs AS freqs
                 FROM pg_catalog.pg_stats st
                WHERE st.schemaname = '@extschema@' AND st.tablename = 'event_log'
                  AND st.attname = 'event_type'),
         mcv AS (SELECT v.val, v.freq FROM s, unnest(s.vals, s.freqs) AS v(val, freq))
    SELECT mcv.val, round(mcv.freq * t.n)::bigint FROM mcv, t
     WHERE @extschema@.event_type_visible(mcv.val)
    UNION ALL
    SELECT NULL, round(greatest(1 - coalesce((SELECT sum(freq) FROM mcv), 0), 0) * t.n)::bigint
      FROM t WHERE t.n > 0
$$;

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
           AND @extschema@.event_type_visible(e.event_type)
           AND (replay.routing_key_prefix IS NULL
                OR starts_with(coalesce(e.routing_key, e.event_type), replay.routing_key_prefix))
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;

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
           AND @extschema@.event_type_visible(e.event_type)
         ORDER BY e.position
        RETURNING 1)
    SELECT count(*) FROM enqueued
$$;

-- Retention: the id ledger of purged partitions ---------------------
-- purge_events() drops a whole partition without touching a row: event_ids
-- keeps its events' rows, so a purged event redelivered is recognised as a
-- duplicate (not stored again), and this table says which positions are gone
-- (the walks skip them).  forget_purged_ids() trims those rows in batches.
CREATE TABLE @extschema@.purged_ranges (
    first_position  bigint NOT NULL CONSTRAINT purged_ranges_pkey PRIMARY KEY,
    last_position   bigint NOT NULL,
    purged_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.purged_ranges IS
    'Positions of the partitions purge_events() dropped whose ids event_ids still holds.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.purged_ranges', '');
REVOKE ALL ON @extschema@.purged_ranges FROM PUBLIC;

CREATE FUNCTION @extschema@.forget_purged_ids(max_ids bigint DEFAULT 10000) RETURNS bigint
    AS 'MODULE_PATHNAME', 'candystore_forget_purged_ids'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.forget_purged_ids(bigint) IS
    'Deletes up to max_ids event_ids rows of events purged with their partitions (their ids are then no longer recognised as duplicates); returns how many.  Call until it returns 0, vacuuming between calls.';
REVOKE ALL ON FUNCTION @extschema@.forget_purged_ids(bigint) FROM PUBLIC;

-- Retention: partitions detached, dropped later -------------------------------
-- purge_events() detaches the partitions past the horizon into this schema
-- (a catalog change, under event_log's lock only for that); dropping them,
-- whose commit unlinks their files, is drop_purged_partitions()'s job, run by
-- the maintenance job or by hand.  Nothing here is read by candystore.
CREATE SCHEMA candystore_purged;
COMMENT ON SCHEMA candystore_purged IS
    'Partitions of candystore.event_log that purge_events() detached; candystore.drop_purged_partitions() drops them.';

CREATE FUNCTION @extschema@.drop_purged_partitions() RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    purged regclass;
    dropped integer := 0;
BEGIN
    FOR purged IN SELECT c.oid FROM pg_class c
                   WHERE c.relnamespace = 'candystore_purged'::regnamespace AND c.relkind = 'r'
                   ORDER BY c.relname LOOP
        EXECUTE format('DROP TABLE %s', purged);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$;
COMMENT ON FUNCTION @extschema@.drop_purged_partitions() IS
    'Drops the partitions purge_events() detached into candystore_purged (their events are already out of every read); returns how many.';
REVOKE ALL ON FUNCTION @extschema@.drop_purged_partitions() FROM PUBLIC;

-- Event retention by pg_cron -----------------------------------------------------
-- schedule_maintenance(event_retention => ...) registers purge_events() as an
-- hourly job (80_maintenance.sql); a third parameter, so both functions are
-- made again.
DROP FUNCTION @extschema@.schedule_maintenance(interval, interval);
DROP FUNCTION @extschema@.maintenance_jobs(interval, interval);
CREATE FUNCTION @extschema@.maintenance_jobs(outbox_retention interval DEFAULT '7 days',
                                               dead_letter_retention interval DEFAULT '7 days',
                                               event_retention interval DEFAULT NULL)
    RETURNS TABLE(job_name text, schedule text, command text)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('candystore-outbox-cleanup', '17 * * * *',
            format('SELECT @extschema@.cleanup_outbox(%L)', outbox_retention)),
           ('candystore-dead-letters-prune', '47 * * * *',
            format('SELECT @extschema@.prune_dead_letters(%L)', dead_letter_retention)),
           ('candystore-outbox-retry', '*/5 * * * *', 'SELECT @extschema@.retry_outbox()'),
           ('candystore-partitions-premake', '7,37 * * * *', 'SELECT @extschema@.make_partitions()'),
           ('candystore-purged-partitions-drop', '27 * * * *', 'SELECT @extschema@.drop_purged_partitions()')
    UNION ALL
    -- event retention only when asked for: purging events is the user's decision
    SELECT 'candystore-events-purge', '57 * * * *', format('SELECT @extschema@.purge_events(%L)', event_retention)
     WHERE event_retention IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.maintenance_jobs(interval, interval, interval) IS
    'The jobs schedule_maintenance() registers: name, cron schedule, command.';

CREATE FUNCTION @extschema@.schedule_maintenance(outbox_retention interval DEFAULT '7 days',
                                                   dead_letter_retention interval DEFAULT '7 days',
                                                   event_retention interval DEFAULT NULL)
    RETURNS TABLE(job_name text, schedule text, command text, jobid bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries, set cron.database_name = %L, restart, and run CREATE EXTENSION pg_cron.', current_database());
    END IF;
    IF outbox_retention < interval '0' THEN
        RAISE EXCEPTION 'outbox_retention must not be negative, not %', outbox_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dead_letter_retention < interval '0' THEN
        RAISE EXCEPTION 'dead_letter_retention must not be negative, not %', dead_letter_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF event_retention <= interval '0' THEN
        RAISE EXCEPTION 'event_retention must be positive, not %', event_retention
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave it NULL (the default) to keep every event; purge_events() keeps what the outbox and subscriptions still need.';
    END IF;
    FOR job IN SELECT * FROM @extschema@.maintenance_jobs(outbox_retention, dead_letter_retention, event_retention) LOOP
        job_name := job.job_name;
        schedule := job.schedule;
        command := job.command;
        -- scheduling a name that exists replaces that job
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, current_database())'
            INTO jobid USING job.job_name, job.schedule, job.command;
        RETURN NEXT;
    END LOOP;
    -- the jobs are those of the last call: without event_retention, no purge
    IF event_retention IS NULL THEN
        EXECUTE 'SELECT count(cron.unschedule(jobid)) FROM cron.job
                  WHERE jobname = ''candystore-events-purge'' AND database = current_database()';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.schedule_maintenance(interval, interval, interval) IS
    'Registers candystore''s housekeeping jobs with pg_cron (running them again updates them); with event_retention, also purge_events(event_retention) hourly.';
REVOKE ALL ON FUNCTION @extschema@.schedule_maintenance(interval, interval, interval) FROM PUBLIC;

